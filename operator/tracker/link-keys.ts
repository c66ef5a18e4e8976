// The per-fleet operator-link key (ADR 0021), derived from the VoiceAgent's stream-key Secret the
// operator generated; derived once per Secret version.
import type { KubernetesObject, V1Secret } from '@kubernetes/client-node';
import { voiceAgentNames } from '../../cdk8s/charts/labels.ts';
import { linkKey } from '../../voice-gateway/operator-link.ts';

export type LinkKeys = (namespace: string, voiceAgent: string) => Buffer | undefined;

export function linkKeysFrom(
  secrets: { get(key: string): KubernetesObject | undefined } | undefined,
): LinkKeys {
  const derived = new Map<string, { version: string; key: Buffer }>();
  return (namespace, voiceAgent) => {
    const name = `${namespace}/${voiceAgentNames(voiceAgent).streamKey}`;
    const secret = secrets?.get(name) as V1Secret | undefined;
    const value = secret?.data?.key;
    if (!value) return undefined;
    const version = secret.metadata?.resourceVersion ?? value;
    const cached = derived.get(name);
    if (cached?.version === version) return cached.key;
    const key = linkKey(Buffer.from(value, 'base64').toString('utf8'));
    derived.set(name, { version, key });
    if (derived.size > 100_000) derived.delete(derived.keys().next().value as string);
    return key;
  };
}
