// The MemoryStore's CA in the gateway pod: one key of a Secret or ConfigMap mounted read-only, and
// CALLFLEET_MEMORY_CA_FILE naming it. With it the gateway connects with TLS and verify-full.
import type { Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import type { VoiceAgentModel } from './model.ts';

export const MEMORY_CA_DIR = '/etc/callfleet/memory-ca';
export const MEMORY_CA_FILE = `${MEMORY_CA_DIR}/ca.crt`;

export function mountMemoryCa(chart: Chart, m: VoiceAgentModel, container: kplus.Container): void {
  const ca = m.memory?.ca;
  if (!ca) return;
  const items = { [ca.key]: { path: 'ca.crt' } };
  const volume =
    ca.kind === 'Secret'
      ? kplus.Volume.fromSecret(
          chart,
          'memory-ca-volume',
          kplus.Secret.fromSecretName(chart, 'memory-ca', ca.name),
          {
            name: 'memory-ca',
            items,
          },
        )
      : kplus.Volume.fromConfigMap(
          chart,
          'memory-ca-volume',
          kplus.ConfigMap.fromConfigMapName(chart, 'memory-ca', ca.name),
          { name: 'memory-ca', items },
        );
  container.mount(MEMORY_CA_DIR, volume, { readOnly: true });
  container.env.addVariable('CALLFLEET_MEMORY_CA_FILE', kplus.EnvValue.fromValue(MEMORY_CA_FILE));
}
