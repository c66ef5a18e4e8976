// The MemoryStore's database engines beyond the operator's own PostgreSQL: CloudNativePG, the CA bundle
// of an external database, and the connection budget every engine sizes the gateways' pools with.
import { z } from 'zod';
import { celRefine } from '../cel.ts';
import { HTTP_URL, objectName, passthrough, QUANTITY, secretRef } from './common.ts';

export const ConfigMapKeySelectorSchema = z
  .strictObject({
    name: objectName('Name of the ConfigMap in the same namespace.'),
    key: z
      .string()
      .min(1)
      .max(253)
      .regex(/^[-._a-zA-Z0-9]+$/)
      .describe('Key inside the ConfigMap whose value is used.'),
  })
  .describe('Reference to one key of a ConfigMap in the same namespace (configMapKeyRef shape).');

export const CaBundleSchema = celRefine(
  z
    .strictObject({
      caSecretRef: secretRef('Secret key holding the PEM CA bundle.').optional(),
      caConfigMapRef: ConfigMapKeySelectorSchema.describe(
        'ConfigMap key holding the PEM CA bundle.',
      ).optional(),
    })
    .describe(
      'PEM CA bundle that signs the database server certificate (e.g. the RDS or Cloud SQL CA). The gateways mount it and connect with TLS, verifying the certificate and the host name (verify-full), whatever sslmode the URL says.',
    ),
  {
    rule: 'has(self.caSecretRef) != has(self.caConfigMapRef)',
    message: 'set exactly one of caSecretRef and caConfigMapRef',
  },
  (c) => (c.caSecretRef === undefined) !== (c.caConfigMapRef === undefined),
);

/** The defaults of spec.connections (one place: the schema and the budget read them from here). */
export const CONNECTION_DEFAULTS = { maxConnections: 500, reserved: 10, maxPoolPerGateway: 10 } as const;
/** No gateway's pool is lowered below this: under it, the budget does not fit. */
export const MIN_POOL_PER_GATEWAY = 2;

export const ConnectionsSchema = z
  .strictObject({
    maxConnections: z
      .int()
      .min(25)
      .max(10000)
      .default(CONNECTION_DEFAULTS.maxConnections)
      .describe(
        "Upper bound of max_connections. postgres and cloudnative-pg: the operator sets the server's max_connections to the fleet's budget (Σ over the VoiceAgents using the store of (maxReplicas + 1 surge pod) × pool + reserved, rounded up to 25), at most this. external: what the server allows callfleet; the pools are sized to fit it.",
      ),
    reserved: z
      .int()
      .min(3)
      .max(1000)
      .default(CONNECTION_DEFAULTS.reserved)
      .describe(
        'Connections kept out of the gateways’ pools: superuser slots, migrations, backups, `callfleet memory` and the operator’s probe.',
      ),
    maxPoolPerGateway: z
      .int()
      .min(MIN_POOL_PER_GATEWAY)
      .max(100)
      .default(CONNECTION_DEFAULTS.maxPoolPerGateway)
      .describe(
        `Largest connection pool one gateway pod opens. Lowered for every gateway (to no less than ${MIN_POOL_PER_GATEWAY}) when the fleet would not fit in maxConnections; below that the ConnectionBudget condition is False.`,
      ),
  })
  .describe(
    'The connection budget: max_connections and each gateway’s pool size, computed from the VoiceAgents that use the store and recomputed when they change (status.connections shows the result).',
  );

const S3_PATH = /^s3:\/\/[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](\/[^\s]*)?$/;
/** CloudNativePG's cron syntax has six fields: seconds first. */
const CRON6 = /^\S+( \S+){5}$/;

export const S3CredentialsSchema = z
  .strictObject({
    accessKeyIdSecretRef: secretRef('Secret key holding the access key id.'),
    secretAccessKeySecretRef: secretRef('Secret key holding the secret access key.'),
    regionSecretRef: secretRef('Secret key holding the region (optional; S3 and GCS need none).').optional(),
  })
  .describe('S3 API credentials (AWS S3, GCS in interoperability mode, MinIO), as Secret key references.');

const objectStore = {
  destinationPath: z
    .string()
    .max(1024)
    .regex(S3_PATH)
    .describe(
      'Where base backups and WAL go: s3://bucket/path (the cluster name is appended by CloudNativePG).',
    ),
  endpointURL: z
    .string()
    .max(512)
    .regex(HTTP_URL)
    .optional()
    .describe('S3 endpoint for a non-AWS store (GCS: https://storage.googleapis.com, MinIO: its URL).'),
  endpointCASecretRef: secretRef(
    'Secret key holding the PEM CA of the S3 endpoint (an endpoint with its own CA).',
  ).optional(),
  s3Credentials: S3CredentialsSchema,
};

export const CnpgBackupSchema = z
  .strictObject({
    ...objectStore,
    retentionPolicy: z
      .string()
      .max(16)
      .regex(/^[1-9][0-9]*[dwm]$/)
      .default('30d')
      .describe('How long base backups and WAL are kept (CloudNativePG syntax: 30d, 8w, 6m).'),
    schedule: z
      .string()
      .max(128)
      .regex(CRON6)
      .default('0 0 3 * * *')
      .describe(
        'When the ScheduledBackup takes a base backup (six-field cron, seconds first). WAL is archived continuously.',
      ),
  })
  .describe(
    'Continuous WAL archiving and scheduled base backups to object storage (barmanObjectStore); required: without them there is no point-in-time recovery.',
  );

export const CnpgRecoverySchema = z
  .strictObject({
    sourceServerName: objectName(
      'Name the backups were archived under (the CloudNativePG cluster of the old store, <store>-db).',
    ),
    destinationPath: z
      .string()
      .max(1024)
      .regex(S3_PATH)
      .optional()
      .describe('s3://bucket/path of the source backups; default backup.destinationPath.'),
    targetTime: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('Recover to this instant (RFC 3339); absent: replay every archived WAL record.'),
  })
  .describe(
    'Create this store by point-in-time recovery from backups in object storage (bootstrap.recovery); only read when the cluster is created.',
  );

export const CloudNativePgSchema = z
  .strictObject({
    instances: z
      .int()
      .min(1)
      .max(9)
      .default(3)
      .describe(
        'PostgreSQL instances: one primary and streaming replicas, spread across zones (topology.kubernetes.io/zone) and nodes.',
      ),
    imageName: z
      .string()
      .min(1)
      .max(512)
      .optional()
      .describe("PostgreSQL operand image; the CloudNativePG operator's default when unset."),
    storage: z
      .strictObject({
        size: z.string().max(64).regex(QUANTITY).default('10Gi').describe('Size of each instance’s volume.'),
        storageClassName: z
          .string()
          .min(1)
          .max(253)
          .optional()
          .describe("StorageClass of the volumes; the cluster's default when unset."),
      })
      .prefault({})
      .describe('Volume of each instance.'),
    resources: passthrough(
      'Compute resources of each PostgreSQL instance (core/v1 ResourceRequirements).',
    ).optional(),
    backup: CnpgBackupSchema,
    recovery: CnpgRecoverySchema.optional(),
  })
  .describe(
    'PostgreSQL run by the CloudNativePG operator (a postgresql.cnpg.io Cluster); required when engine is cloudnative-pg. The CloudNativePG operator must be installed.',
  );
