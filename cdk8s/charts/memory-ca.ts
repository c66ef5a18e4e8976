// The MemoryStore's CA in a pod that connects to the store (gateway, backup job): one key of a Secret or
// ConfigMap mounted read-only as ca.crt, and CALLFLEET_MEMORY_CA_FILE naming it. With it the client
// connects with TLS and verify-full. One definition for both pods.
import type { V1EnvVar, V1Volume, V1VolumeMount } from '@kubernetes/client-node';

/** Where the CA that signs the store's server certificate is (see memoryStoreCa). */
export interface MemoryCa {
  kind: 'Secret' | 'ConfigMap';
  name: string;
  key: string;
}

export const MEMORY_CA_DIR = '/etc/callfleet/memory-ca';
export const MEMORY_CA_FILE = `${MEMORY_CA_DIR}/ca.crt`;
const VOLUME = 'memory-ca';

// Keys in sorted order: the gateway adds these by JSON patch after cdk8s sorted the Deployment's keys.

export function memoryCaVolume(ca: MemoryCa): V1Volume {
  const items = [{ key: ca.key, path: 'ca.crt' }];
  return ca.kind === 'Secret'
    ? { name: VOLUME, secret: { items, secretName: ca.name } }
    : { configMap: { items, name: ca.name }, name: VOLUME };
}

export const memoryCaMount: V1VolumeMount = { mountPath: MEMORY_CA_DIR, name: VOLUME, readOnly: true };
export const memoryCaEnv: V1EnvVar = { name: 'CALLFLEET_MEMORY_CA_FILE', value: MEMORY_CA_FILE };
