// Scheduled pg_dump to a PVC, keeping the newest N dumps. The job pod carries the memorystore label,
// so the store's NetworkPolicy admits it like a gateway.
import { ApiObject, type Chart } from 'cdk8s';
import { MEMORYSTORE_LABEL } from '../labels.ts';
import { type MemoryStoreModel, POSTGRES_DB, POSTGRES_PORT, POSTGRES_USER } from './model.ts';
import { podSecurity, restrictedContainer } from './statefulset.ts';

export function backupScript(keep: number): string {
  return [
    'set -eu',
    'f="/backups/$(date -u +%Y%m%dT%H%M%SZ).dump"',
    'pg_dump --format=custom --file="$f.partial" && mv "$f.partial" "$f"',
    `ls -1t /backups/*.dump | tail -n +${keep + 1} | xargs -r rm -f --`,
  ].join('\n');
}

export function addBackup(chart: Chart, m: MemoryStoreModel): void {
  const backup = m.spec.backup;
  if (!backup || m.spec.engine !== 'postgres') return;
  new ApiObject(chart, 'backup-pvc', {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: m.names.backupPvc, labels: m.labels('backup') },
    spec: {
      accessModes: ['ReadWriteOnce'],
      ...(backup.storage.storageClassName ? { storageClassName: backup.storage.storageClassName } : {}),
      resources: { requests: { storage: backup.storage.size } },
    },
  });
  const image = m.spec.postgres?.image ?? 'postgres:17';
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
          template: {
            metadata: { labels: { ...m.labels('backup'), [MEMORYSTORE_LABEL]: m.owner.name } },
            spec: {
              restartPolicy: 'OnFailure',
              automountServiceAccountToken: false,
              securityContext: podSecurity,
              containers: [
                {
                  name: 'pg-dump',
                  image,
                  command: ['/bin/sh', '-c', backupScript(backup.keep)],
                  env: [
                    { name: 'PGHOST', value: `${m.names.clientService}.${m.namespace}.svc` },
                    { name: 'PGPORT', value: String(POSTGRES_PORT) },
                    { name: 'PGUSER', value: POSTGRES_USER },
                    { name: 'PGDATABASE', value: POSTGRES_DB },
                    {
                      name: 'PGPASSWORD',
                      valueFrom: { secretKeyRef: { name: m.names.credentials, key: 'password' } },
                    },
                    // The server takes TLS only (pg_hba): verify it like the gateways do.
                    { name: 'PGSSLMODE', value: 'verify-full' },
                    { name: 'PGSSLROOTCERT', value: '/etc/callfleet/tls/ca.crt' },
                  ],
                  resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
                  securityContext: restrictedContainer,
                  volumeMounts: [
                    { name: 'backups', mountPath: '/backups' },
                    { name: 'tmp', mountPath: '/tmp' },
                    { name: 'tls', mountPath: '/etc/callfleet/tls', readOnly: true },
                  ],
                },
              ],
              volumes: [
                { name: 'backups', persistentVolumeClaim: { claimName: m.names.backupPvc } },
                { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
                {
                  name: 'tls',
                  secret: { secretName: m.names.tls, items: [{ key: 'ca.crt', path: 'ca.crt' }] },
                },
              ],
            },
          },
        },
      },
    },
  });
}
