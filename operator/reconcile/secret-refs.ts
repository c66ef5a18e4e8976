// The Secrets a VoiceAgent's gateway pods read, checked before anything is applied: a missing Secret or
// key is reported on the VoiceAgent (Ready=False, SecretNotFound / SecretKeyNotFound, naming the Secret,
// the key and the field) within one reconcile, instead of pods stuck in CreateContainerConfigError and a
// rollout that times out. The Secrets informer caches only names and keys; the index maps each Secret
// to the VoiceAgents that read it, so the condition clears by itself when the Secret appears.
import type { KubernetesObject, V1Deployment, V1Secret } from '@kubernetes/client-node';

/** Which API field put each gateway env var's Secret into the pod (for the message). */
const FIELD_OF_ENV: Record<string, string> = {
  TWILIO_AUTH_TOKEN: 'spec.telephony.twilio.authTokenSecretRef',
  TWILIO_ACCOUNT_SID: 'spec.telephony.twilio.accountSidSecretRef',
  ELEVENLABS_API_KEY: 'spec.agent.elevenlabs.apiKeySecretRef',
  ELEVENLABS_WEBHOOK_SECRET: 'spec.agent.elevenlabs.webhookSecretRef',
  ELEVENLABS_REQUEST_TOKEN: 'spec.agent.elevenlabs.requestTokenSecretRef',
  OPENAI_API_KEY: 'spec.agent.openaiRealtime.apiKeySecretRef',
  AGENT_WEBSOCKET_TOKEN: 'spec.agent.websocket.tokenSecretRef',
  CALLFLEET_MEMORY_URL: 'the connection Secret of spec.memory.storeRef',
  CALLFLEET_ENCRYPTION_KEY: 'the encryption key of spec.memory.storeRef',
};

export interface SecretRef {
  name: string;
  /** Undefined: the whole Secret is read (a volume or envFrom). */
  key?: string;
  /** The field (or env var) that references it. */
  from: string;
}

export interface SecretProblem {
  reason: 'SecretNotFound' | 'SecretKeyNotFound';
  message: string;
}

/** A Secret as the cache keeps it: metadata and its keys with empty values (never the values). */
export function secretKeysOnly(object: KubernetesObject): KubernetesObject {
  const s = object as V1Secret;
  const keys = [...Object.keys(s.data ?? {}), ...Object.keys(s.stringData ?? {})];
  return {
    apiVersion: s.apiVersion,
    kind: s.kind,
    metadata: {
      name: s.metadata?.name,
      namespace: s.metadata?.namespace,
      uid: s.metadata?.uid,
      resourceVersion: s.metadata?.resourceVersion,
    },
    data: Object.fromEntries(keys.map((k) => [k, ''])),
  } as V1Secret;
}

/**
 * Every non-optional Secret the rendered gateway pods read (env, envFrom, volumes), except the Secrets
 * rendered alongside them (the operator creates those in the same apply).
 */
export function referencedSecrets(objects: KubernetesObject[]): SecretRef[] {
  const rendered = new Set(objects.filter((o) => o.kind === 'Secret').map((o) => o.metadata?.name));
  const refs: SecretRef[] = [];
  for (const object of objects) {
    if (object.kind !== 'Deployment') continue;
    const pod = (object as V1Deployment).spec?.template?.spec;
    for (const c of [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])]) {
      for (const env of c.env ?? []) {
        const ref = env.valueFrom?.secretKeyRef;
        if (ref?.name && !ref.optional)
          refs.push({ name: ref.name, key: ref.key, from: FIELD_OF_ENV[env.name] ?? `env ${env.name}` });
      }
      for (const from of c.envFrom ?? []) {
        const ref = from.secretRef;
        if (ref?.name && !ref.optional) refs.push({ name: ref.name, from: `envFrom of ${c.name}` });
      }
    }
    for (const v of pod?.volumes ?? []) {
      const ref = v.secret;
      if (ref?.secretName && !ref.optional) {
        const keys = ref.items?.map((i) => i.key) ?? [undefined];
        for (const key of keys) refs.push({ name: ref.secretName, key, from: `volume ${v.name}` });
      }
    }
  }
  return refs.filter((r) => !rendered.has(r.name));
}

/** The first missing Secret or key, in reference order; undefined when every one is there. */
export function missingSecret(
  namespace: string,
  refs: SecretRef[],
  get: (key: string) => KubernetesObject | undefined,
): SecretProblem | undefined {
  for (const ref of refs) {
    const secret = get(`${namespace}/${ref.name}`) as V1Secret | undefined;
    if (!secret) {
      return {
        reason: 'SecretNotFound',
        message: `Secret ${ref.name} (${ref.from}) does not exist in namespace ${namespace}`,
      };
    }
    if (ref.key !== undefined && !(ref.key in (secret.data ?? {}))) {
      return {
        reason: 'SecretKeyNotFound',
        message: `Secret ${ref.name} has no key ${ref.key} (${ref.from})`,
      };
    }
  }
  return undefined;
}

/** Which VoiceAgents read which Secrets, as their last reconcile saw it. */
export class SecretIndex {
  readonly #byAgent = new Map<string, Set<string>>();

  /** `agent` is the VoiceAgent's namespace/name; the Secrets are named in its namespace. */
  set(agent: string, namespace: string, names: Iterable<string>): void {
    this.#byAgent.set(agent, new Set([...names].map((n) => `${namespace}/${n}`)));
  }

  delete(agent: string): void {
    this.#byAgent.delete(agent);
  }

  /** The VoiceAgents that read the Secret `namespace/name`. */
  agentsReading(secret: string): string[] {
    return [...this.#byAgent].filter(([, names]) => names.has(secret)).map(([agent]) => agent);
  }
}
