// PostgreSQL as a one-replica StatefulSet with its data on a PVC from volumeClaimTemplates.
// A plain child: cdk8s-plus-28's StatefulSet has no volumeClaimTemplates and no
// persistentVolumeClaimRetentionPolicy (which deletionPolicy maps to), and the typed KubeStatefulSet
// wants Quantity objects where the spec holds quantity strings.
import type { V1ResourceRequirements } from '@kubernetes/client-node';
import type { Chart } from 'cdk8s';
import { child, passthroughAs } from '../children.ts';
import { restrictedContainer, restrictedPod } from '../security.ts';
import { type MemoryStoreModel, POSTGRES_DB, POSTGRES_PORT, POSTGRES_UID, POSTGRES_USER } from './model.ts';

export const DEFAULT_POSTGRES_RESOURCES: V1ResourceRequirements = {
  requests: { cpu: '250m', memory: '512Mi' },
  limits: { memory: '1Gi' },
};

const TLS_DIR = '/etc/callfleet/tls';
const CONFIG_DIR = '/etc/callfleet/postgres';

/**
 * Only TLS connections from the network (hostssl, scram-sha-256); the unix socket, private to the pod
 * (an emptyDir), serves the image's init scripts. (pg_isready only asks whether the server answers.)
 */
export const PG_HBA = [
  'local all all trust',
  'hostssl all all 0.0.0.0/0 scram-sha-256',
  'hostssl all all ::/0 scram-sha-256',
  'hostnossl all all 0.0.0.0/0 reject',
  'hostnossl all all ::/0 reject',
  '',
].join('\n');

/** The server's command line: TLS on, pg_hba above, max_connections from the connection budget. */
export function postgresArgs(m: MemoryStoreModel): string[] {
  const settings: [string, string][] = [
    ['ssl', 'on'],
    ['ssl_cert_file', `${TLS_DIR}/tls.crt`],
    ['ssl_key_file', `${TLS_DIR}/tls.key`],
    ['ssl_min_protocol_version', 'TLSv1.2'],
    ['hba_file', `${CONFIG_DIR}/pg_hba.conf`],
    ['max_connections', String(m.budget.maxConnections)],
  ];
  return ['postgres', ...settings.flatMap(([k, v]) => ['-c', `${k}=${v}`])];
}

export function addPostgresConfig(chart: Chart, m: MemoryStoreModel): void {
  child(chart, 'postgres-config', 'ConfigMap', {
    metadata: { name: m.names.postgresConfig, labels: m.labels('database') },
    data: { 'pg_hba.conf': PG_HBA },
  });
}

export function addStatefulSet(chart: Chart, m: MemoryStoreModel): void {
  const pg = m.spec.postgres ?? { image: 'postgres:17', storage: { size: '10Gi' } };
  const ready = {
    exec: { command: ['pg_isready', '-U', POSTGRES_USER, '-d', POSTGRES_DB, '-h', '127.0.0.1'] },
  };
  const retain = m.spec.deletionPolicy === 'Retain' ? 'Retain' : 'Delete';
  child(chart, 'statefulset', 'StatefulSet', {
    metadata: { name: m.names.statefulSet, labels: m.labels('database') },
    spec: {
      serviceName: m.names.headlessService,
      replicas: 1,
      selector: { matchLabels: m.selector },
      persistentVolumeClaimRetentionPolicy: { whenDeleted: retain, whenScaled: 'Retain' },
      template: {
        metadata: { labels: { ...m.labels('database'), ...m.selector } },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: restrictedPod(POSTGRES_UID, { fsGroup: true }),
          terminationGracePeriodSeconds: 60,
          containers: [
            {
              name: 'postgres',
              image: pg.image,
              args: postgresArgs(m),
              ports: [{ name: 'postgres', containerPort: POSTGRES_PORT }],
              env: [
                { name: 'POSTGRES_USER', value: POSTGRES_USER },
                { name: 'POSTGRES_DB', value: POSTGRES_DB },
                {
                  name: 'POSTGRES_PASSWORD',
                  valueFrom: { secretKeyRef: { name: m.names.credentials, key: 'password' } },
                },
                { name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' },
              ],
              resources: pg.resources
                ? passthroughAs<V1ResourceRequirements>(pg.resources)
                : DEFAULT_POSTGRES_RESOURCES,
              startupProbe: { ...ready, periodSeconds: 2, failureThreshold: 60, timeoutSeconds: 2 },
              livenessProbe: { ...ready, periodSeconds: 10, failureThreshold: 6, timeoutSeconds: 5 },
              readinessProbe: { ...ready, periodSeconds: 5, failureThreshold: 2, timeoutSeconds: 2 },
              securityContext: restrictedContainer(POSTGRES_UID),
              volumeMounts: [
                { name: 'data', mountPath: '/var/lib/postgresql/data' },
                { name: 'run', mountPath: '/var/run/postgresql' },
                { name: 'tmp', mountPath: '/tmp' },
                { name: 'tls', mountPath: TLS_DIR, readOnly: true },
                { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
              ],
            },
          ],
          volumes: [
            // root:postgres 0640 (fsGroup): what PostgreSQL accepts for a key file it does not own.
            {
              name: 'tls',
              secret: {
                secretName: m.names.tls,
                defaultMode: 0o640,
                items: [
                  { key: 'tls.crt', path: 'tls.crt' },
                  { key: 'tls.key', path: 'tls.key' },
                ],
              },
            },
            { name: 'config', configMap: { name: m.names.postgresConfig } },
            { name: 'run', emptyDir: { sizeLimit: '16Mi' } },
            { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } },
          ],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: 'data', labels: m.labels('database') },
          spec: {
            accessModes: ['ReadWriteOnce'],
            ...(pg.storage.storageClassName ? { storageClassName: pg.storage.storageClassName } : {}),
            resources: { requests: { storage: pg.storage.size } },
          },
        },
      ],
    },
  });
}
