// Where a bucket is: the one definition shared by the gateway config, the CLI and the operator's
// renderer (no S3 client here, so the schema loads without the AWS SDK).
import { z } from 'zod';

export const bucketConfigSchema = z
  .object({
    endpoint: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe('S3 API endpoint; AWS S3 of the region when unset (GCS: https://storage.googleapis.com)'),
    bucket: z
      .string()
      .min(3)
      .max(63)
      .regex(/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/, 'a bucket name: lower-case letters, digits, dots and dashes')
      .describe('Bucket name'),
    prefix: z
      .string()
      .max(512)
      .regex(/^([A-Za-z0-9!_.*'()-]+\/)*$/, 'empty or path segments each ending in "/", e.g. callfleet/prod/')
      .default('')
      .describe('Key prefix of every object this store writes (ends with "/")'),
    region: z.string().min(1).max(64).default('us-east-1').describe('Region (GCS: auto; MinIO: us-east-1)'),
    forcePathStyle: z
      .boolean()
      .default(false)
      .describe('Path-style URLs (endpoint/bucket/key), needed by MinIO and most self-hosted servers'),
    requestTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(600_000)
      .default(30_000)
      .describe('Deadline of one request to the bucket'),
  })
  .strict();

export type BucketConfig = z.output<typeof bucketConfigSchema>;
export type BucketConfigInput = z.input<typeof bucketConfigSchema>;

/** Parses CALLFLEET_OBJECT_STORAGE (JSON of bucketConfigSchema); the error names the field. */
export function bucketConfigFromJson(text: string, source = 'CALLFLEET_OBJECT_STORAGE'): BucketConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new Error(`${source}: not JSON (${(error as Error).message})`);
  }
  const parsed = bucketConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${source}.${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  return parsed.data;
}
