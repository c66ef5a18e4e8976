// ingress-nginx: two stable Ingress objects per VoiceAgent, because nginx annotations apply per
// Ingress: the stream one hashes on the request URI (which is the call SID: Twilio forbids query
// strings on <Stream url>) with 3600 s timeouts; the webhook one is rate-limited.
// Note: use-regex is host-wide in ingress-nginx, so the webhook prefixes are matched as regexes too
// (they contain no regex metacharacters, so they mean the same).
import type { V1HTTPIngressPath } from '@kubernetes/client-node';
import type { Chart } from 'cdk8s';
import { MAX_CALLS_PER_SECOND } from '../../api/v1alpha1/callcampaign.ts';
import { child } from '../children.ts';
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
/** Webhooks one call brings: its voice webhook, four call-status events and two stream-status events. */
export const WEBHOOKS_PER_CALL = 7;
/**
 * ingress-nginx counts limit-rps per client address, and Twilio's webhooks come from a handful of them
 * (behind an NLB without proxy protocol, from the nodes' addresses): the limit is a flood guard sized to
 * carry the fastest legitimate traffic, a campaign at its maximum pace and as many inbound calls beside it.
 * Below that, nginx answered a busy campaign's own webhooks 503, and Twilio failed those calls (ADR 0028).
 */
export const WEBHOOK_RATE_LIMIT_RPS = 2 * MAX_CALLS_PER_SECOND * WEBHOOKS_PER_CALL;

/** Read and send timeouts of the proxied connection, in seconds. */
const proxyTimeouts = (seconds: number) => ({
  [`${A}/proxy-read-timeout`]: String(seconds),
  [`${A}/proxy-send-timeout`]: String(seconds),
});

export function addNginxIngress(chart: Chart, m: VoiceAgentModel): void {
  const ingress = m.spec.ingress;
  if (ingress?.className !== 'nginx') return;
  const { host } = ingress;
  const add = (id: string, name: string, annotations: Record<string, string>, paths: V1HTTPIngressPath[]) =>
    child(chart, id, 'Ingress', {
      metadata: { name, labels: m.labels('ingress'), annotations },
      spec: {
        ingressClassName: 'nginx',
        tls: tls(host, ingress.tls?.secretName),
        rules: [{ host, http: { paths } }],
      },
    });
  add(
    'ingress-streams',
    m.names.streamsIngress,
    {
      [`${A}/use-regex`]: 'true',
      [`${A}/upstream-hash-by`]: '$request_uri',
      ...proxyTimeouts(STREAM_TIMEOUT_SECONDS),
      [`${A}/proxy-buffering`]: 'off',
      [STICKINESS_ANNOTATION]: 'call: consistent hash on $request_uri, which carries the call SID',
    },
    [{ path: STREAM_REGEX, pathType: 'ImplementationSpecific', backend: backend(m.names.streamsService) }],
  );
  add(
    'ingress-webhooks',
    m.names.webhooksIngress,
    {
      [`${A}/limit-rps`]: String(WEBHOOK_RATE_LIMIT_RPS),
      ...proxyTimeouts(WEBHOOK_TIMEOUT_SECONDS),
      [STICKINESS_ANNOTATION]: 'none: webhooks are stateless, round robin',
    },
    WEBHOOK_PREFIXES.map((path) => ({ path, pathType: 'Prefix', backend: backend(m.names.webhooksService) })),
  );
}
