// A MemoryStore's bucket (spec.objectStorage) as the product reads it, for both pods that write to it:
// the gateways (call recordings, in their config) and the backup job (CALLFLEET_OBJECT_STORAGE). The
// credentials travel separately, as the AWS SDK's variables from the Secret (none: pod identity / IRSA).
import type { BucketConfigInput } from '../../voice-gateway/storage/bucket-config.ts';
import type { ObjectStorageSpec, SecretKeySelector } from '../api/v1alpha1/index.ts';

/** The bucket in the shape of the gateway's own bucket config (voice-gateway/storage/bucket-config.ts). */
export function bucketConfig(o: ObjectStorageSpec): BucketConfigInput {
  return {
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    bucket: o.bucket,
    prefix: o.prefix,
    region: o.region,
    forcePathStyle: o.forcePathStyle,
  };
}

/** Env var → Secret key of the bucket's static credentials (empty: pod identity). */
export function bucketCredentialEnv(o: ObjectStorageSpec | undefined): [string, SecretKeySelector][] {
  const c = o?.credentials;
  if (!c) return [];
  return [
    ['AWS_ACCESS_KEY_ID', c.accessKeyIdSecretRef],
    ['AWS_SECRET_ACCESS_KEY', c.secretAccessKeySecretRef],
  ];
}
