// The fleet a MemoryStore's connection budget is computed from: the VoiceAgents in its namespace whose
// spec.memory.storeRef names it, with their maxReplicas (as parsed, defaults applied). Both the store's
// reconcile (max_connections, status.connections) and each VoiceAgent's (its pool size) call this, so
// they agree without waiting for each other's status.
import { parseVoiceAgent } from '../../cdk8s/api/v1alpha1/index.ts';
import type { FleetMember } from '../../cdk8s/charts/memorystore/budget.ts';
import type { Informer } from '../runtime/informer.ts';
import type { WithStatus } from './status.ts';

type StoreRef = { spec?: { memory?: { storeRef?: { name?: string } } } };

export function storeRefOf(va: unknown): string | undefined {
  return (va as StoreRef | undefined)?.spec?.memory?.storeRef?.name;
}

export function fleetOf(voiceAgents: Informer<WithStatus>, namespace: string, store: string): FleetMember[] {
  const members: FleetMember[] = [];
  for (const va of voiceAgents.list((v) => v.metadata?.namespace === namespace && storeRefOf(v) === store)) {
    if (va.metadata?.deletionTimestamp) continue;
    const parsed = parseVoiceAgent(va);
    // An invalid VoiceAgent renders nothing, so it opens no connections.
    if (!parsed.ok) continue;
    members.push({
      name: parsed.value.metadata.name ?? '',
      maxReplicas: parsed.value.spec.autoscaling.maxReplicas,
    });
  }
  return members.sort((a, b) => a.name.localeCompare(b.name));
}
