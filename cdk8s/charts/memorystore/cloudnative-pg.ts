// engine cloudnative-pg: a CloudNativePG Cluster (instances spread across zones and nodes, TLS only,
// max_connections from the connection budget, continuous WAL archiving and base backups to object
// storage), its ScheduledBackup and a PodMonitor. CloudNativePG creates the Secrets the gateways use:
// <cluster>-app (key uri) and <cluster>-ca (key ca.crt), so the connection is verify-full.
import type { V1ResourceRequirements } from '@kubernetes/client-node';
import type { Chart } from 'cdk8s';
import type { MemoryStoreSpec } from '../../api/v1alpha1/index.ts';
import { API_VERSIONS, child, passthroughAs } from '../children.ts';
import type { BarmanObjectStore, CnpgClusterSpec } from '../crd-models.ts';
import { RenderError } from '../errors.ts';
import { type MemoryStoreModel, POSTGRES_DB, POSTGRES_USER } from './model.ts';

export const CNPG_API_VERSION = API_VERSIONS.Cluster;
export const CNPG_CLUSTER_LABEL = 'cnpg.io/cluster';
const ZONE = 'topology.kubernetes.io/zone';

type Cnpg = NonNullable<MemoryStoreSpec['cloudnativePg']>;
type Store = Cnpg['backup'] | (Cnpg['recovery'] & { destinationPath: string });

function objectStore(backup: Cnpg['backup'], destinationPath: string): BarmanObjectStore {
  const c = backup.s3Credentials;
  return {
    destinationPath,
    ...(backup.endpointURL ? { endpointURL: backup.endpointURL } : {}),
    ...(backup.endpointCASecretRef ? { endpointCA: { ...backup.endpointCASecretRef } } : {}),
    s3Credentials: {
      accessKeyId: { ...c.accessKeyIdSecretRef },
      secretAccessKey: { ...c.secretAccessKeySecretRef },
      ...(c.regionSecretRef ? { region: { ...c.regionSecretRef } } : {}),
    },
  };
}

export function clusterSpec(m: MemoryStoreModel, cnpg: Cnpg): CnpgClusterSpec {
  const cluster = m.names.cnpgCluster;
  const recovery = cnpg.recovery;
  if (recovery && recovery.sourceServerName === cluster) {
    throw new RenderError(
      'spec.cloudnativePg.recovery.sourceServerName',
      `must differ from this store's own cluster name ${cluster}: CloudNativePG refuses to archive into the backups it recovers from`,
    );
  }
  const bootstrap = recovery
    ? {
        recovery: {
          source: 'origin',
          database: POSTGRES_DB,
          owner: POSTGRES_USER,
          ...(recovery.targetTime ? { recoveryTarget: { targetTime: recovery.targetTime } } : {}),
        },
      }
    : { initdb: { database: POSTGRES_DB, owner: POSTGRES_USER } };
  const source: Store | undefined = recovery
    ? { ...recovery, destinationPath: recovery.destinationPath ?? cnpg.backup.destinationPath }
    : undefined;
  return {
    instances: cnpg.instances,
    ...(cnpg.imageName ? { imageName: cnpg.imageName } : {}),
    primaryUpdateStrategy: 'unsupervised',
    postgresql: {
      parameters: { max_connections: String(m.budget.maxConnections) },
      // Before CloudNativePG's catch-all `host all all all`: nothing without TLS.
      pg_hba: ['hostnossl all all 0.0.0.0/0 reject', 'hostnossl all all ::/0 reject'],
    },
    bootstrap,
    ...(source
      ? {
          externalClusters: [
            {
              name: 'origin',
              barmanObjectStore: {
                serverName: source.sourceServerName,
                ...objectStore(cnpg.backup, source.destinationPath),
                wal: { maxParallel: 8 },
              },
            },
          ],
        }
      : {}),
    storage: {
      size: cnpg.storage.size,
      ...(cnpg.storage.storageClassName ? { storageClass: cnpg.storage.storageClassName } : {}),
    },
    ...(cnpg.resources ? { resources: passthroughAs<V1ResourceRequirements>(cnpg.resources) } : {}),
    affinity: {
      enablePodAntiAffinity: true,
      topologyKey: 'kubernetes.io/hostname',
      podAntiAffinityType: 'preferred',
    },
    topologySpreadConstraints: [
      {
        maxSkew: 1,
        topologyKey: ZONE,
        whenUnsatisfiable: 'DoNotSchedule',
        labelSelector: { matchLabels: { [CNPG_CLUSTER_LABEL]: cluster } },
      },
    ],
    backup: {
      retentionPolicy: cnpg.backup.retentionPolicy,
      barmanObjectStore: {
        ...objectStore(cnpg.backup, cnpg.backup.destinationPath),
        wal: { compression: 'gzip' },
        data: { compression: 'gzip' },
      },
    },
  };
}

export function addCloudNativePg(chart: Chart, m: MemoryStoreModel): void {
  const cnpg = m.spec.cloudnativePg;
  if (!cnpg) return;
  const name = m.names.cnpgCluster;
  child(chart, 'cnpg-cluster', 'Cluster', {
    metadata: { name, labels: m.labels('database') },
    spec: clusterSpec(m, cnpg),
  });
  child(chart, 'cnpg-scheduled-backup', 'ScheduledBackup', {
    metadata: { name, labels: m.labels('backup') },
    spec: {
      schedule: cnpg.backup.schedule,
      immediate: true,
      backupOwnerReference: 'self',
      method: 'barmanObjectStore',
      cluster: { name },
    },
  });
  child(chart, 'cnpg-podmonitor', 'PodMonitor', {
    metadata: { name, labels: m.labels('monitoring') },
    spec: {
      selector: { matchLabels: { [CNPG_CLUSTER_LABEL]: name, 'cnpg.io/podRole': 'instance' } },
      podMetricsEndpoints: [{ port: 'metrics' }],
    },
  });
}
