// Scheduled backups that leave the cluster: a CronJob running the product image's own
// `callfleet memory backup` (non-root, read-only root filesystem, no shell) writes an encrypted dump to
// the team's bucket and prunes old ones (voice-gateway/memory/backup/). It works the same for every
// engine: it reads through the store's connection Secret. The job pod carries the memorystore label,
// so the store's NetworkPolicy admits it like a gateway.
import type { Chart } from 'cdk8s';
import { child } from '../children.ts';
import { MEMORYSTORE_LABEL } from '../labels.ts';
import { memoryCaEnv, memoryCaMount, memoryCaVolume } from '../memory-ca.ts';
import { bucketConfig, bucketCredentialEnv } from '../object-storage.ts';
import { restrictedContainer, restrictedPod } from '../security.ts';
import { DEFAULT_IMAGE, GATEWAY_UID } from '../voiceagent/deployment.ts';
import { memoryStoreConnection } from './index.ts';
import type { MemoryStoreModel } from './model.ts';

export function backupArgs(keep: number, maxAgeDays: number | undefined): string[] {
  return [
    'memory',
    'backup',
    '--keep',
    String(keep),
    ...(maxAgeDays ? ['--max-age-days', String(maxAgeDays)] : []),
  ];
}

export function addBackup(chart: Chart, m: MemoryStoreModel): void {
  const backup = m.spec.backup;
  const storage = m.spec.objectStorage;
  if (!backup || !storage) return;
  const conn = memoryStoreConnection(m.ms);
  const product = m.ctx.product ?? {};
  // The product image runs as the gateway's user.
  const uid = GATEWAY_UID;
  child(chart, 'backup-cronjob', 'CronJob', {
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
              securityContext: restrictedPod(uid),
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
                    // The bucket as the CLI reads it; its credentials as the AWS SDK's variables.
                    { name: 'CALLFLEET_OBJECT_STORAGE', value: JSON.stringify(bucketConfig(storage)) },
                    ...bucketCredentialEnv(storage).map(([name, secretKeyRef]) => ({
                      name,
                      valueFrom: { secretKeyRef },
                    })),
                    // The store's CA (postgres, cloudnative-pg, external with caBundle): verify-full.
                    ...(conn.ca ? [memoryCaEnv] : []),
                  ],
                  resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
                  securityContext: restrictedContainer(uid),
                  volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, ...(conn.ca ? [memoryCaMount] : [])],
                },
              ],
              volumes: [
                { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
                ...(conn.ca ? [memoryCaVolume(conn.ca)] : []),
              ],
            },
          },
        },
      },
    },
  });
}
