// Scheduled backups that leave the cluster: a CronJob running the product image's own
// `callfleet memory backup` (non-root, read-only root filesystem, no shell) writes an encrypted dump to
// the team's bucket and prunes old ones (voice-gateway/memory/backup/). It works the same for every
// engine: it reads through the store's connection Secret. The job pod carries the memorystore label,
// so the store's NetworkPolicy admits it like a gateway.
import { ApiObject, type Chart } from 'cdk8s';
import { MEMORYSTORE_LABEL } from '../labels.ts';
import { DEFAULT_IMAGE } from '../voiceagent/deployment.ts';
import { memoryStoreConnection } from './index.ts';
import type { MemoryStoreModel } from './model.ts';

export const DEFAULT_PRODUCT_IMAGE_UID = 10001;

/** The bucket as the CLI reads it (CALLFLEET_OBJECT_STORAGE); credentials travel separately. */
export function objectStorageJson(m: MemoryStoreModel): string | undefined {
  const o = m.spec.objectStorage;
  if (!o) return undefined;
  return JSON.stringify({
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    bucket: o.bucket,
    prefix: o.prefix,
    region: o.region,
    forcePathStyle: o.forcePathStyle,
  });
}

/** AWS SDK credential variables from the store's credentials Secret (none: pod identity / IRSA). */
export function objectStorageEnv(m: MemoryStoreModel): Record<string, unknown>[] {
  const c = m.spec.objectStorage?.credentials;
  if (!c) return [];
  return [
    { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: c.accessKeyIdSecretRef } },
    { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: c.secretAccessKeySecretRef } },
  ];
}

export function backupArgs(keep: number, maxAgeDays: number | undefined): string[] {
  return [
    'memory',
    'backup',
    '--keep',
    String(keep),
    ...(maxAgeDays ? ['--max-age-days', String(maxAgeDays)] : []),
  ];
}

const BACKUP_CA_DIR = '/etc/callfleet/memory-ca';
const BACKUP_CA_FILE = `${BACKUP_CA_DIR}/ca.crt`;

function caVolume(ca: { kind: 'Secret' | 'ConfigMap'; name: string; key: string }): Record<string, unknown> {
  const items = [{ key: ca.key, path: 'ca.crt' }];
  return ca.kind === 'Secret'
    ? { name: 'memory-ca', secret: { secretName: ca.name, items } }
    : { name: 'memory-ca', configMap: { name: ca.name, items } };
}

export function addBackup(chart: Chart, m: MemoryStoreModel): void {
  const backup = m.spec.backup;
  const storage = m.spec.objectStorage;
  if (!backup || !storage) return;
  const conn = memoryStoreConnection(m.ms);
  const product = m.ctx.product ?? {};
  const uid = DEFAULT_PRODUCT_IMAGE_UID;
  new ApiObject(chart, 'backup-cronjob', {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: m.names.backupCronJob, labels: m.labels('backup') },
    spec: {
      schedule: backup.schedule,
      concurrencyPolicy: 'Forbid',
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        spec: {
          backoffLimit: 2,
          // A backup that has not finished in six hours is stuck: stop it (bounded in time).
          activeDeadlineSeconds: 6 * 3600,
          template: {
            metadata: { labels: { ...m.labels('backup'), [MEMORYSTORE_LABEL]: m.owner.name } },
            spec: {
              restartPolicy: 'OnFailure',
              automountServiceAccountToken: storage.serviceAccountName !== undefined,
              ...(storage.serviceAccountName ? { serviceAccountName: storage.serviceAccountName } : {}),
              ...(product.imagePullSecrets?.length
                ? { imagePullSecrets: product.imagePullSecrets.map((name) => ({ name })) }
                : {}),
              securityContext: {
                runAsNonRoot: true,
                runAsUser: uid,
                runAsGroup: uid,
                seccompProfile: { type: 'RuntimeDefault' },
              },
              containers: [
                {
                  name: 'backup',
                  image: product.image ?? DEFAULT_IMAGE,
                  imagePullPolicy: product.imagePullPolicy ?? 'IfNotPresent',
                  args: backupArgs(backup.keep, backup.maxAgeDays),
                  env: [
                    {
                      name: 'CALLFLEET_MEMORY_URL',
                      valueFrom: {
                        secretKeyRef: { name: conn.connectionSecretName, key: conn.connectionSecretKey },
                      },
                    },
                    {
                      name: 'CALLFLEET_ENCRYPTION_KEY',
                      valueFrom: { secretKeyRef: conn.encryptionKeySecretRef },
                    },
                    { name: 'CALLFLEET_OBJECT_STORAGE', value: objectStorageJson(m) },
                    ...objectStorageEnv(m),
                    // The store's CA (postgres, cloudnative-pg, external with caBundle): verify-full.
                    ...(conn.ca ? [{ name: 'CALLFLEET_MEMORY_CA_FILE', value: BACKUP_CA_FILE }] : []),
                  ],
                  resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
                  securityContext: {
                    runAsNonRoot: true,
                    runAsUser: uid,
                    runAsGroup: uid,
                    readOnlyRootFilesystem: true,
                    allowPrivilegeEscalation: false,
                    privileged: false,
                    capabilities: { drop: ['ALL'] },
                    seccompProfile: { type: 'RuntimeDefault' },
                  },
                  volumeMounts: [
                    { name: 'tmp', mountPath: '/tmp' },
                    ...(conn.ca ? [{ name: 'memory-ca', mountPath: BACKUP_CA_DIR, readOnly: true }] : []),
                  ],
                },
              ],
              volumes: [
                { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
                ...(conn.ca ? [caVolume(conn.ca)] : []),
              ],
            },
          },
        },
      },
    },
  });
}
