// MemoryStore: where callers are remembered (PostgreSQL run by the operator, or an external database).
import { z } from 'zod';
import { celChecks, requiredWhen } from '../cel.ts';
import {
  conditionsList,
  HTTP_URL,
  objectName,
  passthrough,
  QUANTITY,
  resourceSchema,
  secretRef,
} from './common.ts';
import { CaBundleSchema, CloudNativePgSchema, ConnectionsSchema } from './memorystore-engines.ts';

export const StorageSchema = z
  .strictObject({
    size: z
      .string()
      .max(64)
      .regex(QUANTITY)
      .default('10Gi')
      .describe('Size of the PersistentVolumeClaim, e.g. 10Gi.'),
    storageClassName: z
      .string()
      .min(1)
      .max(253)
      .optional()
      .describe("StorageClass of the PersistentVolumeClaim; the cluster's default when unset."),
  })
  .describe('Persistent volume for the data.');

export const PostgresSchema = z
  .strictObject({
    image: z.string().min(1).max(512).default('postgres:17').describe('PostgreSQL container image.'),
    storage: StorageSchema.prefault({}),
    resources: passthrough(
      'Compute resources of the PostgreSQL container (core/v1 ResourceRequirements).',
    ).optional(),
  })
  .describe(
    'PostgreSQL run by the operator (StatefulSet + PVC); used when engine is postgres, defaults apply when omitted.',
  );

export const ExternalSchema = z
  .strictObject({
    connectionSecretRef: secretRef(
      'Secret key holding the PostgreSQL connection URL (postgres://user:pass@host:5432/db?sslmode=verify-full).',
    ),
    caBundle: CaBundleSchema.optional(),
  })
  .describe('An external PostgreSQL (RDS, Cloud SQL, ...); required when engine is external.');

export const RetentionSchema = z
  .strictObject({
    transcriptsDays: z
      .int()
      .min(1)
      .max(3650)
      .default(30)
      .describe('Days call transcripts are kept; every gateway using the store deletes older ones.'),
    memoriesDays: z
      .int()
      .min(1)
      .max(3650)
      .default(365)
      .describe('Days caller memories (summaries, facts) are kept after they were stored.'),
  })
  .describe('How long caller data is kept; the gateways using the store sweep it hourly.');

export const EncryptionSchema = z
  .strictObject({
    keySecretRef: secretRef(
      'Secret key holding the 32-byte key (base64) that encrypts phone numbers and transcripts and keys the caller hash.',
    ),
  })
  .describe(
    'Field-level encryption of caller data; when omitted the operator generates a key in the Secret <name>-encryption (key "key").',
  );

export const ObjectStorageSchema = z
  .strictObject({
    endpoint: z
      .string()
      .max(512)
      .regex(HTTP_URL)
      .optional()
      .describe(
        'S3 API endpoint; AWS S3 of the region when unset. GCS: https://storage.googleapis.com (interoperability mode, HMAC keys); MinIO: its URL.',
      ),
    bucket: z
      .string()
      .min(3)
      .max(63)
      .regex(/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/)
      .describe('Bucket name. Backups go under <prefix>backups/, call recordings under <prefix>recordings/.'),
    prefix: z
      .string()
      .max(512)
      .regex(/^([A-Za-z0-9!_.*'()-]+\/)*$/)
      .default('')
      .describe(
        'Key prefix of every object written (empty, or path segments each ending in "/", e.g. callfleet/prod/).',
      ),
    region: z.string().min(1).max(64).default('us-east-1').describe('Bucket region (GCS: auto).'),
    forcePathStyle: z
      .boolean()
      .default(false)
      .describe('Path-style requests (endpoint/bucket/key), as MinIO and most self-hosted servers need.'),
    credentials: z
      .strictObject({
        accessKeyIdSecretRef: secretRef('Secret key holding the access key id (GCS: the HMAC key id).'),
        secretAccessKeySecretRef: secretRef(
          'Secret key holding the secret access key (GCS: the HMAC secret).',
        ),
      })
      .optional()
      .describe(
        'Static credentials (S3 access keys, GCS HMAC keys, MinIO users). Omit to use the pod identity (EKS IRSA / Pod Identity via serviceAccountName).',
      ),
    serviceAccountName: objectName(
      'ServiceAccount the backup CronJob runs as (e.g. annotated for EKS IRSA); the namespace default when unset. Gateways use their VoiceAgent ServiceAccount (spec.podTemplate.serviceAccount).',
    ).optional(),
  })
  .describe(
    "The team's bucket (S3 API: AWS S3, GCS interoperability, MinIO): encrypted memory backups and call recordings of VoiceAgents using this store.",
  );

export const BackupSchema = z
  .strictObject({
    schedule: z
      .string()
      .min(9)
      .max(128)
      .describe('Cron schedule of the backups (CronJob syntax), e.g. "0 3 * * *".'),
    keep: z
      .int()
      .min(1)
      .max(1000)
      .default(7)
      .describe('Number of backups kept in the bucket (newest first).'),
    maxAgeDays: z
      .int()
      .min(1)
      .max(3650)
      .optional()
      .describe('Backups older than this are deleted too (the newest backup is always kept).'),
  })
  .describe(
    'Scheduled backups: a CronJob running `callfleet memory backup` (the product image, non-root) writes an encrypted dump to spec.objectStorage; needs objectStorage.',
  );

const specBase = z
  .strictObject({
    engine: z
      .enum(['postgres', 'external', 'cloudnative-pg'])
      .default('postgres')
      .describe(
        'external: an existing database (RDS, Cloud SQL, ...), the production default. cloudnative-pg: a highly available CloudNativePG Cluster with backups to object storage. postgres: one PostgreSQL pod run by the operator, for development and small fleets. The gateways connect to postgres and cloudnative-pg with TLS and verify-full, to external with verify-full when external.caBundle is set.',
      ),
    postgres: PostgresSchema.optional(),
    external: ExternalSchema.optional(),
    cloudnativePg: CloudNativePgSchema.optional(),
    connections: ConnectionsSchema.prefault({}),
    retention: RetentionSchema.prefault({}),
    encryption: EncryptionSchema.optional(),
    objectStorage: ObjectStorageSchema.optional(),
    backup: BackupSchema.optional(),
    deletionPolicy: z
      .enum(['Retain', 'Delete'])
      .default('Retain')
      .describe(
        'Retain keeps the data (PVC or external tables) when the MemoryStore is deleted; Delete removes it.',
      ),
  })
  .describe('Desired state of the MemoryStore.');

export const MemoryStoreSpecSchema = celChecks(
  specBase,
  requiredWhen(
    'engine',
    'external',
    'external',
    'external.connectionSecretRef is required when engine is external',
  ),
  {
    rule: "self.engine != 'external' || !has(self.postgres)",
    message: 'postgres must not be set when engine is external',
    fieldPath: '.postgres',
    holds: (s) => s.engine !== 'external' || s.postgres === undefined,
  },
  {
    rule: "self.engine != 'postgres' || !has(self.external)",
    message: 'external must not be set when engine is postgres',
    fieldPath: '.external',
    holds: (s) => s.engine !== 'postgres' || s.external === undefined,
  },
  requiredWhen(
    'engine',
    'cloudnative-pg',
    'cloudnativePg',
    'cloudnativePg (with its backup block) is required when engine is cloudnative-pg',
  ),
  {
    rule: "self.engine == 'cloudnative-pg' || !has(self.cloudnativePg)",
    message: 'cloudnativePg must not be set unless engine is cloudnative-pg',
    fieldPath: '.cloudnativePg',
    holds: (s) => s.engine === 'cloudnative-pg' || s.cloudnativePg === undefined,
  },
  {
    rule: "self.engine != 'cloudnative-pg' || (!has(self.postgres) && !has(self.external))",
    message: 'postgres and external must not be set when engine is cloudnative-pg',
    fieldPath: '.engine',
    holds: (s) => s.engine !== 'cloudnative-pg' || (s.postgres === undefined && s.external === undefined),
  },
  // A transition rule (the API server checks it on update; a parse sees one object, so zod cannot).
  {
    rule: 'self.engine == oldSelf.engine',
    message: 'engine is immutable: create a new MemoryStore with the other engine and restore into it',
    fieldPath: '.engine',
    holds: () => true,
  },
  {
    rule: '!has(self.backup) || has(self.objectStorage)',
    message: 'backup needs objectStorage (backups are written to the bucket)',
    fieldPath: '.backup',
    holds: (s) => s.backup === undefined || s.objectStorage !== undefined,
  },
);

export const MemoryStoreStatusSchema = z
  .strictObject({
    observedGeneration: z.int().min(0).optional().describe('The .metadata.generation the status describes.'),
    conditions: conditionsList('Ready, Progressing and Degraded conditions.').optional(),
    endpoint: z.string().max(512).optional().describe('host:port the gateways connect to.'),
    connectionSecret: z
      .strictObject({
        name: objectName('Name of the Secret.'),
        key: z.string().max(253).describe('Key holding the connection URL.'),
      })
      .optional()
      .describe('Secret with the connection URL that gateways mount.'),
    caBundle: z
      .strictObject({
        name: objectName('Name of the Secret or ConfigMap.'),
        key: z.string().max(253).describe('Key holding the PEM CA bundle.'),
        kind: z.enum(['Secret', 'ConfigMap']).describe('Secret or ConfigMap.'),
      })
      .optional()
      .describe('Where the CA that signs the server certificate is (gateways verify the server with it).'),
    connections: z
      .strictObject({
        maxConnections: z
          .int()
          .min(0)
          .describe('max_connections the server runs with (or allows callfleet).'),
        poolPerGateway: z.int().min(0).describe('Connection pool size of each gateway pod.'),
        gatewaysAtPeak: z
          .int()
          .min(0)
          .describe('Gateway pods at the fleet’s peak: Σ (maxReplicas + 1 surge pod) over the VoiceAgents.'),
        needed: z.int().min(0).describe('gatewaysAtPeak × poolPerGateway + reserved.'),
        voiceAgents: z.int().min(0).describe('VoiceAgents using the store.'),
      })
      .optional()
      .describe('The connection budget as last computed (spec.connections).'),
  })
  .describe('Observed state of the MemoryStore.');

export const MemoryStoreSchema = resourceSchema(
  'MemoryStore',
  MemoryStoreSpecSchema.prefault({}),
  MemoryStoreStatusSchema,
  'Storage for caller memory: who called, transcripts, and facts recalled on the next call.',
);

export type MemoryStore = z.output<typeof MemoryStoreSchema>;
export type MemoryStoreInput = z.input<typeof MemoryStoreSchema>;
export type MemoryStoreSpec = z.output<typeof MemoryStoreSpecSchema>;
export type MemoryStoreStatus = z.output<typeof MemoryStoreStatusSchema>;
export type ObjectStorageSpec = z.output<typeof ObjectStorageSchema>;
