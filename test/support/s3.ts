// A throwaway S3-compatible server for tests: Versity's S3 gateway (built from the Go module proxy by
// `make tools`, test/cluster/build-tools.sh) serving a temp directory on 127.0.0.1 with a free port,
// object metadata in a sidecar directory (no xattr needed), killed with the test process
// (`setpriv --pdeathsig`, support/processes.ts). Clients talk to it with @aws-sdk/client-s3 like any S3.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { Bucket, type BucketConfig, bucketConfigSchema } from '../../voice-gateway/storage/bucket.ts';
import { toolPath } from '../cluster/tools.ts';
import { freePort } from './ports.ts';
import { type Managed, startProcess, waitFor } from './processes.ts';

export const S3_ACCESS_KEY = 'callfleettest';
export const S3_SECRET_KEY = 'callfleet-test-secret-0123456789';

export interface TestS3 {
  endpoint: string;
  dir: string;
  /** Environment a process needs to reach the server (static credentials, as a Secret would give). */
  env: Record<string, string>;
  createBucket(name: string): Promise<void>;
  /** Bucket config for a bucket on this server (path-style, as MinIO-like servers need). */
  config(bucket: string, prefix?: string): BucketConfig;
  bucket(bucket: string, prefix?: string): Bucket;
  /** Files under the bucket's directory (what the server really stores). */
  log(): string;
  stop(): Promise<void>;
}

export function s3Env(): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: S3_ACCESS_KEY,
    AWS_SECRET_ACCESS_KEY: S3_SECRET_KEY,
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

export async function startS3(): Promise<TestS3> {
  const binary = toolPath('versitygw');
  const root = mkdtempSync(join(tmpdir(), 'callfleet-s3-'));
  const data = join(root, 'data');
  const sidecar = join(root, 'meta');
  mkdirSync(data);
  mkdirSync(sidecar);
  const port = await freePort();
  const logFile = join(root, 'versitygw.log');
  const proc: Managed = startProcess(
    'versitygw',
    binary,
    ['--port', `127.0.0.1:${port}`, '--quiet', 'posix', '--sidecar', sidecar, data],
    logFile,
    { env: { ROOT_ACCESS_KEY_ID: S3_ACCESS_KEY, ROOT_SECRET_ACCESS_KEY: S3_SECRET_KEY } },
  );
  const endpoint = `http://127.0.0.1:${port}`;
  for (const [k, v] of Object.entries(s3Env())) process.env[k] ??= v;
  const admin = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY },
  });
  const config = (bucket: string, prefix = ''): BucketConfig =>
    bucketConfigSchema.parse({ endpoint, bucket, prefix, region: 'us-east-1', forcePathStyle: true });
  await waitFor(
    'versitygw to listen',
    async () => {
      if (proc.child.exitCode !== null) throw new Error(readFileSync(logFile, 'utf8'));
      const res = await fetch(`${endpoint}/`).catch(() => undefined);
      return res !== undefined;
    },
    20_000,
  );
  return {
    endpoint,
    dir: data,
    env: s3Env(),
    async createBucket(name) {
      await admin.send(new CreateBucketCommand({ Bucket: name }));
    },
    config,
    bucket: (name, prefix) => new Bucket(config(name, prefix)),
    log: () => readFileSync(logFile, 'utf8'),
    async stop() {
      admin.destroy();
      await proc.stop('SIGTERM', 5000);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
