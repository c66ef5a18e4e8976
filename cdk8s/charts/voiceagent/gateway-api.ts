// Gateway API (first-class): one HTTPRoute per VoiceAgent attached to the referenced Gateway; the
// stream rule's timeouts are disabled ("0s"), the webhook rule keeps a short one. Optional policy
// objects for the implementation: GKE's GCPBackendPolicy or Envoy Gateway's BackendTrafficPolicy.
import type { Chart } from 'cdk8s';
import { child } from '../children.ts';
import { STICKINESS_ANNOTATION } from '../labels.ts';
import { GATEWAY_PORT, type VoiceAgentModel } from './model.ts';
import {
  STREAM_PATH_PREFIX,
  STREAM_TIMEOUT_SECONDS,
  WEBHOOK_PREFIXES,
  WEBHOOK_TIMEOUT_SECONDS,
} from './paths.ts';

const GW = 'gateway.networking.k8s.io';

export function addGatewayApi(chart: Chart, m: VoiceAgentModel): void {
  const ingress = m.spec.ingress;
  if (!ingress?.gatewayRef) return;
  const ref = ingress.gatewayRef;
  const annotations: Record<string, string> = {
    [STICKINESS_ANNOTATION]:
      ingress.gatewayPolicy === 'envoy'
        ? 'none: Envoy Gateway consistent hashing keys on headers, cookies or source IP, not on the path that carries the call SID'
        : 'none: Gateway API HTTPRoute has no request-value hashing',
  };
  if (ingress.tls) {
    annotations['callfleet.io/tls'] =
      `terminated by the Gateway listener (${ref.namespace ?? m.namespace}/${ref.name}); spec.ingress.tls.secretName must be referenced there`;
  }
  const backendRefs = (service: string) => [
    { group: '', kind: 'Service', name: service, port: GATEWAY_PORT },
  ];
  child(chart, 'httproute', 'HTTPRoute', {
    metadata: { name: m.names.httpRoute, labels: m.labels('ingress'), annotations },
    spec: {
      parentRefs: [
        {
          group: GW,
          kind: 'Gateway',
          name: ref.name,
          ...(ref.namespace ? { namespace: ref.namespace } : {}),
          ...(ref.sectionName ? { sectionName: ref.sectionName } : {}),
        },
      ],
      hostnames: [ingress.host],
      rules: [
        {
          name: 'streams',
          matches: [{ path: { type: 'PathPrefix', value: STREAM_PATH_PREFIX } }],
          backendRefs: backendRefs(m.names.streamsService),
          timeouts: { request: '0s', backendRequest: '0s' },
        },
        {
          name: 'webhooks',
          matches: WEBHOOK_PREFIXES.map((value) => ({ path: { type: 'PathPrefix' as const, value } })),
          backendRefs: backendRefs(m.names.webhooksService),
          timeouts: { request: `${WEBHOOK_TIMEOUT_SECONDS}s` },
        },
      ],
    },
  });
  const policyMetadata = { name: m.names.gatewayPolicy, labels: m.labels('ingress') };
  if (ingress.gatewayPolicy === 'gcp') {
    // One policy for the streams Service: backend timeout >= longest call, draining = grace (GCLB max 3600 s).
    child(chart, 'gcpbackendpolicy', 'GCPBackendPolicy', {
      metadata: policyMetadata,
      spec: {
        targetRef: { group: '', kind: 'Service', name: m.names.streamsService },
        default: {
          timeoutSec: Math.max(m.spec.calls.maxDurationSeconds, m.gracePeriodSeconds, STREAM_TIMEOUT_SECONDS),
          connectionDraining: { drainingTimeoutSec: Math.min(m.gracePeriodSeconds, 3600) },
        },
      },
    });
  }
  if (ingress.gatewayPolicy === 'envoy') {
    child(chart, 'backendtrafficpolicy', 'BackendTrafficPolicy', {
      metadata: policyMetadata,
      spec: {
        targetRefs: [{ group: GW, kind: 'HTTPRoute', name: m.names.httpRoute }],
        timeout: {
          tcp: { connectTimeout: '10s' },
          http: { connectionIdleTimeout: `${STREAM_TIMEOUT_SECONDS}s` },
        },
        healthCheck: {
          passive: {
            consecutive5XxErrors: 5,
            interval: '10s',
            baseEjectionTime: '30s',
            maxEjectionPercent: 50,
          },
        },
      },
    });
  }
}
