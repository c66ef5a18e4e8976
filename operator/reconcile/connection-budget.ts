// The fleet a MemoryStore's connection budget is computed from: the VoiceAgents in its namespace whose
// spec.memory.storeRef names it, with their maxReplicas (as parsed, defaults applied). Both the store's
// reconcile (max_connections, status.connections) and each VoiceAgent's (its pool size) call this, so
// they agree without waiting for each other's status.
import type { KubernetesObject } from '@kubernetes/client-node';
import { type ParseResult, parseVoiceAgent, type VoiceAgent } from '../../cdk8s/api/v1alpha1/index.ts';
import type { FleetMember } from '../../cdk8s/charts/memorystore/budget.ts';
import type { Informer } from '../runtime/informer.ts';
import type { WithStatus } from './status.ts';

/** Parse results by cached object: a cache replaces an object on every change, so each version parses once. */
const parsed = new WeakMap<KubernetesObject, ParseResult<VoiceAgent>>();

function parsedVoiceAgent(va: KubernetesObject): ParseResult<VoiceAgent> {
  let result = parsed.get(va);
  if (!result) {
    result = parseVoiceAgent(va);
    parsed.set(va, result);
  }
  return result;
}

/**
 * The MemoryStore a VoiceAgent's parsed spec names (spec.memory.storeRef). An invalid VoiceAgent names
 * none: it renders nothing and opens no connections, so no store counts it or waits on it.
 */
export function storeRefOf(va: KubernetesObject | undefined): string | undefined {
  if (!va) return undefined;
  const result = parsedVoiceAgent(va);
  return result.ok ? result.value.spec.memory?.storeRef.name : undefined;
}

export function fleetOf(voiceAgents: Informer<WithStatus>, namespace: string, store: string): FleetMember[] {
  const members: FleetMember[] = [];
  for (const va of voiceAgents.list((v) => v.metadata?.namespace === namespace && storeRefOf(v) === store)) {
    if (va.metadata?.deletionTimestamp) continue;
    const result = parsedVoiceAgent(va);
    // An invalid VoiceAgent renders nothing, so it opens no connections (storeRefOf skipped it already).
    if (!result.ok) continue;
    members.push({
      name: result.value.metadata.name ?? '',
      maxReplicas: result.value.spec.autoscaling.maxReplicas,
    });
  }
  return members.sort((a, b) => a.name.localeCompare(b.name));
}
