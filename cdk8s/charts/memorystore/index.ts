// MemoryStore → its children. postgres: generated Secrets, StatefulSet, Services, PDB,
// NetworkPolicy, optional backups, connection Secret. external: egress NetworkPolicy (+ encryption key).
import type { Chart } from 'cdk8s';
import type { MemoryStore } from '../../api/v1alpha1/index.ts';
import { memoryStoreNames } from '../labels.ts';
import type { MemoryCa } from '../memory-ca.ts';
import { addBackup } from './backup.ts';
import { type ConnectionBudget, connectionBudget, type FleetMember } from './budget.ts';
import { addCloudNativePg } from './cloudnative-pg.ts';
import { type MemoryStoreRenderContext, memoryStoreModel } from './model.ts';
import { addExternalNetworkPolicy, addPostgresNetworkPolicy } from './network-policy.ts';
import { addEncryptionSecret, addPostgresSecrets, addPostgresTlsSecret } from './secrets.ts';
import { addPdb, addServices } from './services.ts';
import { addPostgresConfig, addStatefulSet } from './statefulset.ts';

export type { MemoryStoreRenderContext } from './model.ts';

export function buildMemoryStore(chart: Chart, ms: MemoryStore, ctx: MemoryStoreRenderContext): void {
  const m = memoryStoreModel(ms, ctx);
  addEncryptionSecret(chart, m);
  // Logical, encrypted backups to the bucket: the same job for every engine (it reads through the
  // connection Secret), beside CloudNativePG's own WAL archive or the provider's snapshots.
  addBackup(chart, m);
  if (m.spec.engine === 'external') {
    addExternalNetworkPolicy(chart, m);
    return;
  }
  if (m.spec.engine === 'cloudnative-pg') {
    addCloudNativePg(chart, m);
    return;
  }
  addPostgresSecrets(chart, m);
  addPostgresTlsSecret(chart, m);
  addPostgresConfig(chart, m);
  addStatefulSet(chart, m);
  addServices(chart, m);
  addPdb(chart, m);
  addPostgresNetworkPolicy(chart, m);
}

/** Where the gateways find the CA that signs the store's server certificate (none: the URL decides). */
export function memoryStoreCa(ms: MemoryStore): MemoryCa | undefined {
  const names = memoryStoreNames(ms.metadata.name ?? '');
  if (ms.spec.engine === 'postgres') return { kind: 'Secret', name: names.tls, key: 'ca.crt' };
  if (ms.spec.engine === 'cloudnative-pg')
    return { kind: 'Secret', name: `${names.cnpgCluster}-ca`, key: 'ca.crt' };
  const bundle = ms.spec.external?.caBundle;
  if (bundle?.caSecretRef) return { kind: 'Secret', ...bundle.caSecretRef };
  if (bundle?.caConfigMapRef) return { kind: 'ConfigMap', ...bundle.caConfigMapRef };
  return undefined;
}

/**
 * What a VoiceAgent referencing this store needs (the operator and `callfleet render` build the
 * VoiceAgent render context from it): the Secret key with the connection URL, the CA, the encryption
 * key, the pool size from the connection budget of `fleet` (the VoiceAgents using the store), and the
 * retention every gateway using the store sweeps with.
 */
export function memoryStoreConnection(ms: MemoryStore, fleet: FleetMember[] = []) {
  const name = ms.metadata.name ?? '';
  const names = memoryStoreNames(name);
  const external = ms.spec.engine === 'external' ? ms.spec.external?.connectionSecretRef : undefined;
  const cnpg = ms.spec.engine === 'cloudnative-pg';
  const budget: ConnectionBudget = connectionBudget(ms.spec.engine, ms.spec.connections, fleet);
  return {
    name,
    engine: ms.spec.engine,
    connectionSecretName: external?.name ?? (cnpg ? `${names.cnpgCluster}-app` : names.connection),
    connectionSecretKey: external?.key ?? (cnpg ? 'uri' : 'url'),
    ca: memoryStoreCa(ms),
    poolSize: budget.poolPerGateway,
    cluster: cnpg ? names.cnpgCluster : undefined,
    encryptionKeySecretRef: ms.spec.encryption?.keySecretRef ?? { name: names.encryption, key: 'key' },
    retention: { ...ms.spec.retention },
    objectStorage: ms.spec.objectStorage,
  };
}
