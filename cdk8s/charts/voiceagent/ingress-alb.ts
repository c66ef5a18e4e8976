// AWS Load Balancer Controller: one Ingress, pods as targets (target-type ip) so deregistration
// follows readiness, an idle timeout long enough for a call, and a deregistration delay equal to the
// drain grace period (capped at ALB's 3600 s maximum, said so in an annotation when it bites).
import type { Chart } from 'cdk8s';
import { child } from '../children.ts';
import { STICKINESS_ANNOTATION } from '../labels.ts';
import type { VoiceAgentModel } from './model.ts';
import { prefixRules, STREAM_TIMEOUT_SECONDS, tls } from './paths.ts';

const A = 'alb.ingress.kubernetes.io';
export const ALB_MAX_DEREGISTRATION_DELAY = 3600;

export function addAlbIngress(chart: Chart, m: VoiceAgentModel): void {
  const ingress = m.spec.ingress;
  if (ingress?.className !== 'alb') return;
  const delay = Math.min(m.gracePeriodSeconds, ALB_MAX_DEREGISTRATION_DELAY);
  const annotations: Record<string, string> = {
    [`${A}/scheme`]: 'internet-facing',
    [`${A}/target-type`]: 'ip',
    [`${A}/load-balancer-attributes`]: `idle_timeout.timeout_seconds=${STREAM_TIMEOUT_SECONDS}`,
    [`${A}/target-group-attributes`]: `deregistration_delay.timeout_seconds=${delay}`,
    [`${A}/healthcheck-path`]: '/health/ready',
    [`${A}/healthcheck-port`]: 'traffic-port',
    [`${A}/success-codes`]: '200',
    [`${A}/listen-ports`]: ingress.tls ? '[{"HTTPS":443}]' : '[{"HTTP":80}]',
    [STICKINESS_ANNOTATION]:
      'none: ALB cannot hash on a request value (the stream carries its call SID in the path)',
  };
  if (ingress.tls) {
    annotations['callfleet.io/tls'] =
      'ALB terminates TLS with ACM certificates discovered by host; the spec.tls Secret is not read by the AWS Load Balancer Controller';
  }
  if (delay < m.gracePeriodSeconds) {
    annotations['callfleet.io/deregistration-delay'] =
      `capped: ALB allows at most ${ALB_MAX_DEREGISTRATION_DELAY} s, drain grace period is ${m.gracePeriodSeconds} s`;
  }
  child(chart, 'ingress', 'Ingress', {
    metadata: { name: m.names.ingress, labels: m.labels('ingress'), annotations },
    spec: {
      ingressClassName: 'alb',
      tls: tls(ingress.host, ingress.tls?.secretName),
      rules: prefixRules(ingress.host, m.names.streamsService, m.names.webhooksService),
    },
  });
}
