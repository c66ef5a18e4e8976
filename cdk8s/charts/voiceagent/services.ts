// Two Services in front of the gateway pods, so webhooks and media streams each get their own
// balancing (and, on GKE, their own backend settings), on the public port only; a headless one on the
// internal port for scraping metrics from every pod, serving or not (a pod taken out of the other
// Services still carries calls worth counting). No Ingress/HTTPRoute ever names the headless one.
import { type Chart, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { patchOutput } from '../synth.ts';
import { GATEWAY_PORT, INTERNAL_PORT, INTERNAL_PORT_NAME, PORT_NAME, type VoiceAgentModel } from './model.ts';

export function serviceAnnotations(
  m: VoiceAgentModel,
  which: 'webhooks' | 'streams',
): Record<string, string> {
  if (m.spec.ingress?.className !== 'gce') return {};
  return {
    'cloud.google.com/neg': '{"ingress":true}',
    'cloud.google.com/backend-config': JSON.stringify({ default: `${m.names.backendConfig}-${which}` }),
  };
}

export function addServices(chart: Chart, m: VoiceAgentModel) {
  const make = (
    id: string,
    name: string,
    component: string,
    selector: Record<string, string>,
    headless = false,
  ) => {
    const annotations = id === 'metrics' ? {} : serviceAnnotations(m, id as 'webhooks' | 'streams');
    const service = new kplus.Service(chart, id, {
      metadata: {
        name,
        labels: m.labels(component),
        ...(Object.keys(annotations).length ? { annotations } : {}),
      },
      type: kplus.ServiceType.CLUSTER_IP,
      ...(headless ? { clusterIP: 'None' } : {}),
      ports: [
        id === 'metrics'
          ? {
              name: INTERNAL_PORT_NAME,
              port: INTERNAL_PORT,
              targetPort: INTERNAL_PORT,
              protocol: kplus.Protocol.TCP,
            }
          : { name: PORT_NAME, port: GATEWAY_PORT, targetPort: GATEWAY_PORT, protocol: kplus.Protocol.TCP },
      ],
    });
    for (const [k, v] of Object.entries(selector)) service.selectLabel(k, v);
    // cdk8s-plus always writes an empty externalIPs list.
    patchOutput(chart, 'Service', name, JsonPatch.remove('/spec/externalIPs'));
    return service;
  };
  make('webhooks', m.names.webhooksService, 'webhooks', m.serviceSelector);
  make('streams', m.names.streamsService, 'streams', m.serviceSelector);
  make('metrics', m.names.metricsService, 'metrics', m.selector, true);
}
