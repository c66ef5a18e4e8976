// ingress-nginx: two stable Ingress objects per VoiceAgent, because nginx annotations apply per
// Ingress: the stream one hashes on the request URI (which is the call SID: Twilio forbids query
// strings on <Stream url>) with 3600 s timeouts; the webhook one is rate-limited.
// Note: use-regex is host-wide in ingress-nginx, so the webhook prefixes are matched as regexes too
// (they contain no regex metacharacters, so they mean the same).
import { ApiObject, type Chart } from 'cdk8s';
import { STICKINESS_ANNOTATION } from '../labels.ts';
import type { VoiceAgentModel } from './model.ts';
import {
  backend,
  STREAM_REGEX,
  STREAM_TIMEOUT_SECONDS,
  tls,
  WEBHOOK_PREFIXES,
  WEBHOOK_TIMEOUT_SECONDS,
} from './paths.ts';

const A = 'nginx.ingress.kubernetes.io';
export const WEBHOOK_RATE_LIMIT_RPS = 50;

export function addNginxIngress(chart: Chart, m: VoiceAgentModel): void {
  const ingress = m.spec.ingress;
  if (ingress?.className !== 'nginx') return;
  const { host } = ingress;
  new ApiObject(chart, 'ingress-streams', {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name: m.names.streamsIngress,
      labels: m.labels('ingress'),
      annotations: {
        [`${A}/use-regex`]: 'true',
        [`${A}/upstream-hash-by`]: '$request_uri',
        [`${A}/proxy-read-timeout`]: String(STREAM_TIMEOUT_SECONDS),
        [`${A}/proxy-send-timeout`]: String(STREAM_TIMEOUT_SECONDS),
        [`${A}/proxy-buffering`]: 'off',
        [STICKINESS_ANNOTATION]: 'call: consistent hash on $request_uri, which carries the call SID',
      },
    },
    spec: {
      ingressClassName: 'nginx',
      tls: tls(host, ingress.tls?.secretName),
      rules: [
        {
          host,
          http: {
            paths: [
              {
                path: STREAM_REGEX,
                pathType: 'ImplementationSpecific',
                backend: backend(m.names.streamsService),
              },
            ],
          },
        },
      ],
    },
  });
  new ApiObject(chart, 'ingress-webhooks', {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name: m.names.webhooksIngress,
      labels: m.labels('ingress'),
      annotations: {
        [`${A}/limit-rps`]: String(WEBHOOK_RATE_LIMIT_RPS),
        [`${A}/proxy-read-timeout`]: String(WEBHOOK_TIMEOUT_SECONDS),
        [`${A}/proxy-send-timeout`]: String(WEBHOOK_TIMEOUT_SECONDS),
        [STICKINESS_ANNOTATION]: 'none: webhooks are stateless, round robin',
      },
    },
    spec: {
      ingressClassName: 'nginx',
      tls: tls(host, ingress.tls?.secretName),
      rules: [
        {
          host,
          http: {
            paths: WEBHOOK_PREFIXES.map((path) => ({
              path,
              pathType: 'Prefix',
              backend: backend(m.names.webhooksService),
            })),
          },
        },
      ],
    },
  });
}
