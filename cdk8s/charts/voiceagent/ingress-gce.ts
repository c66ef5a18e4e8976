// GKE Ingress (GCLB): one Ingress plus one BackendConfig per Service: a backend timeout at least the
// longest call (GCLB's backend timeout is also the WebSocket lifetime limit), connection draining,
// and a health check on readiness. GCLB has no hashing on a request value: said so, not pretended.
import type { Chart } from 'cdk8s';
import { child } from '../children.ts';
import { STICKINESS_ANNOTATION } from '../labels.ts';
import { GATEWAY_PORT, type VoiceAgentModel } from './model.ts';
import { prefixRules, STREAM_TIMEOUT_SECONDS, tls, WEBHOOK_TIMEOUT_SECONDS } from './paths.ts';

/** GCLB connection draining allows at most 3600 s. */
export const GCE_MAX_DRAINING_SECONDS = 3600;

export function addGceIngress(chart: Chart, m: VoiceAgentModel): void {
  const ingress = m.spec.ingress;
  if (ingress?.className !== 'gce') return;
  const draining = Math.min(m.gracePeriodSeconds, GCE_MAX_DRAINING_SECONDS);
  const backendConfig = (which: 'streams' | 'webhooks', timeoutSec: number) =>
    child(chart, `backendconfig-${which}`, 'BackendConfig', {
      metadata: { name: `${m.names.backendConfig}-${which}`, labels: m.labels('ingress') },
      spec: {
        timeoutSec,
        connectionDraining: { drainingTimeoutSec: draining },
        healthCheck: {
          type: 'HTTP',
          requestPath: '/health/ready',
          port: GATEWAY_PORT,
          checkIntervalSec: 5,
          timeoutSec: 2,
          healthyThreshold: 1,
          unhealthyThreshold: 2,
        },
      },
    });
  backendConfig(
    'streams',
    Math.max(m.spec.calls.maxDurationSeconds, m.gracePeriodSeconds, STREAM_TIMEOUT_SECONDS),
  );
  backendConfig('webhooks', WEBHOOK_TIMEOUT_SECONDS);
  child(chart, 'ingress', 'Ingress', {
    metadata: {
      name: m.names.ingress,
      labels: m.labels('ingress'),
      annotations: {
        // GKE reads the class from the annotation (spec.ingressClassName is not honoured by ingress-gce).
        'kubernetes.io/ingress.class': 'gce',
        [STICKINESS_ANNOTATION]:
          'none: GCLB cannot hash on a request value (only client IP or generated cookie)',
      },
    },
    spec: {
      tls: tls(ingress.host, ingress.tls?.secretName),
      rules: prefixRules(ingress.host, m.names.streamsService, m.names.webhooksService),
    },
  });
}
