// VoiceAgent → its children, in a stable order.
import type { Chart } from 'cdk8s';
import type { VoiceAgent } from '../../api/v1alpha1/index.ts';
import { addConfigMap } from './configmap.ts';
import { addDeployment } from './deployment.ts';
import { addGatewayApi } from './gateway-api.ts';
import { addAutoscaler } from './hpa.ts';
import { addAlbIngress } from './ingress-alb.ts';
import { fitIngress } from './ingress-fit.ts';
import { addGceIngress } from './ingress-gce.ts';
import { addNginxIngress } from './ingress-nginx.ts';
import { type VoiceAgentModel, type VoiceAgentRenderContext, voiceAgentModel } from './model.ts';
import { addMonitoring } from './monitoring.ts';
import { addNetworkPolicy } from './network-policy.ts';
import { addPdbs } from './pdb.ts';
import { addServices } from './services.ts';
import { addStreamKeySecret } from './stream-key.ts';

export type { MemoryStoreContext, VoiceAgentRenderContext } from './model.ts';

export function buildVoiceAgent(chart: Chart, va: VoiceAgent, ctx: VoiceAgentRenderContext): VoiceAgentModel {
  const m = voiceAgentModel(va, ctx);
  const { configMap, checksum } = addConfigMap(chart, m);
  addStreamKeySecret(chart, m);
  addDeployment(chart, m, configMap, checksum);
  addServices(chart, m);
  addAutoscaler(chart, m);
  addPdbs(chart, m);
  addNginxIngress(chart, m);
  addAlbIngress(chart, m);
  addGceIngress(chart, m);
  addGatewayApi(chart, m);
  fitIngress(chart, m);
  addNetworkPolicy(chart, m);
  addMonitoring(chart, m);
  return m;
}
