// The gateway pod fitted to the cluster: image and pull secrets (spec, else the operator's defaults from the
// chart), extra env / envFrom / volumes / mounts, and the topology spread (override or default). Applied as
// JSON patches after cdk8s-plus built the pod, so the operator's own entries always come first.
import { JsonPatch } from 'cdk8s';
import type { VoiceAgentModel } from './model.ts';

export const DEFAULT_PULL_POLICY = 'IfNotPresent';

export function gatewayImage(m: VoiceAgentModel, fallback: string): { image: string; pullPolicy: string } {
  return {
    image: m.spec.image ?? m.gatewayDefaults.image ?? fallback,
    pullPolicy: m.spec.imagePullPolicy ?? m.gatewayDefaults.imagePullPolicy ?? DEFAULT_PULL_POLICY,
  };
}

export function imagePullSecrets(m: VoiceAgentModel): { name: string }[] {
  return m.spec.imagePullSecrets ?? (m.gatewayDefaults.imagePullSecrets ?? []).map((name) => ({ name }));
}

/** The default spread, or the spec's; a constraint without a labelSelector gets the gateway selector. */
export function topologySpread(m: VoiceAgentModel): Record<string, unknown>[] {
  const labelSelector = { matchLabels: m.selector };
  const own = m.spec.podTemplate?.topologySpreadConstraints;
  if (own) return own.map((c) => ({ ...c, labelSelector: c.labelSelector ?? labelSelector }));
  return [
    {
      maxSkew: 1,
      topologyKey: 'topology.kubernetes.io/zone',
      whenUnsatisfiable: 'ScheduleAnyway',
      labelSelector,
    },
    { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector },
  ];
}

/** Patches of the Deployment for pull secrets and the podTemplate passthroughs. */
export function podFitPatches(m: VoiceAgentModel, container: string): JsonPatch[] {
  const pt = m.spec.podTemplate;
  const patches: JsonPatch[] = [];
  const secrets = imagePullSecrets(m);
  if (secrets.length) patches.push(JsonPatch.add('/spec/template/spec/imagePullSecrets', secrets));
  for (const env of pt?.env ?? []) patches.push(JsonPatch.add(`${container}/env/-`, env));
  if (pt?.envFrom?.length) patches.push(JsonPatch.add(`${container}/envFrom`, pt.envFrom));
  for (const volume of pt?.volumes ?? [])
    patches.push(JsonPatch.add('/spec/template/spec/volumes/-', volume));
  for (const mount of pt?.volumeMounts ?? [])
    patches.push(JsonPatch.add(`${container}/volumeMounts/-`, mount));
  return patches;
}
