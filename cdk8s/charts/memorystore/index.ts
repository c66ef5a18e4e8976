// MemoryStore → its children. postgres: generated Secrets, StatefulSet, Services, PDB,
// NetworkPolicy, optional backups, connection Secret. external: egress NetworkPolicy (+ encryption key).
import type { Chart } from 'cdk8s';
import type { MemoryStore } from '../../api/v1alpha1/index.ts';
import { memoryStoreNames } from '../labels.ts';
import { addBackup } from './backup.ts';
import { type MemoryStoreRenderContext, memoryStoreModel } from './model.ts';
import { addExternalNetworkPolicy, addPostgresNetworkPolicy } from './network-policy.ts';
import { addEncryptionSecret, addPostgresSecrets } from './secrets.ts';
import { addPdb, addServices } from './services.ts';
import { addStatefulSet } from './statefulset.ts';

export type { MemoryStoreRenderContext } from './model.ts';

export function buildMemoryStore(chart: Chart, ms: MemoryStore, ctx: MemoryStoreRenderContext): void {
  const m = memoryStoreModel(ms, ctx);
  addEncryptionSecret(chart, m);
  if (m.spec.engine === 'external') {
    addExternalNetworkPolicy(chart, m);
    return;
  }
  addPostgresSecrets(chart, m);
  addStatefulSet(chart, m);
  addServices(chart, m);
  addPdb(chart, m);
  addPostgresNetworkPolicy(chart, m);
  addBackup(chart, m);
}

/**
 * What a VoiceAgent referencing this store needs (the operator and `callfleet render` build the
 * VoiceAgent render context from it): the Secret key with the connection URL, the encryption key, and
 * the retention every gateway using the store sweeps with.
 */
export function memoryStoreConnection(ms: MemoryStore) {
  const name = ms.metadata.name ?? '';
  const names = memoryStoreNames(name);
  const external = ms.spec.engine === 'external' ? ms.spec.external?.connectionSecretRef : undefined;
  return {
    name,
    engine: ms.spec.engine,
    connectionSecretName: external?.name ?? names.connection,
    connectionSecretKey: external?.key ?? 'url',
    encryptionKeySecretRef: ms.spec.encryption?.keySecretRef ?? { name: names.encryption, key: 'key' },
    retention: { ...ms.spec.retention },
    objectStorage: ms.spec.objectStorage,
  };
}
