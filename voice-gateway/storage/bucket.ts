// The team's bucket over the S3 API (AWS S3, GCS in interoperability mode, MinIO, any S3-compatible
// server), through @aws-sdk/client-s3: signing, retries and credential discovery (static keys from
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or IRSA / web identity when those are unset) are the SDK's.
// Every request carries an abort deadline so a stalled bucket costs bounded time.
import {
  CopyObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { BucketConfig } from './bucket-config.ts';

export {
  type BucketConfig,
  type BucketConfigInput,
  bucketConfigFromJson,
  bucketConfigSchema,
} from './bucket-config.ts';

export interface ObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
}

export class Bucket {
  readonly client: S3Client;
  readonly name: string;
  readonly prefix: string;
  readonly timeoutMs: number;

  constructor(config: BucketConfig, client?: S3Client) {
    this.name = config.bucket;
    this.prefix = config.prefix;
    this.timeoutMs = config.requestTimeoutMs;
    this.client =
      client ??
      new S3Client({
        region: config.region,
        ...(config.endpoint ? { endpoint: config.endpoint } : {}),
        forcePathStyle: config.forcePathStyle,
        maxAttempts: 3,
        // GCS interoperability rejects the newer default checksum headers; ask for them only when needed.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
  }

  key(relative: string): string {
    return `${this.prefix}${relative}`;
  }

  signal(timeoutMs = this.timeoutMs): AbortSignal {
    return AbortSignal.timeout(timeoutMs);
  }

  async put(key: string, body: Buffer, metadata: Record<string, string> = {}): Promise<void> {
    await this.client.send(
      new PutObjectCommand({ Bucket: this.name, Key: key, Body: body, Metadata: metadata }),
      { abortSignal: this.signal() },
    );
  }

  /** The object's body as a stream and its user metadata; the deadline covers the whole read. */
  async get(
    key: string,
    timeoutMs = 3_600_000,
  ): Promise<{ body: AsyncIterable<Uint8Array>; metadata: Record<string, string>; size: number }> {
    const out = await this.client.send(new GetObjectCommand({ Bucket: this.name, Key: key }), {
      abortSignal: this.signal(timeoutMs),
    });
    if (!out.Body) throw new Error(`s3://${this.name}/${key}: empty response`);
    return {
      body: out.Body as AsyncIterable<Uint8Array>,
      metadata: out.Metadata ?? {},
      size: out.ContentLength ?? 0,
    };
  }

  async getBuffer(key: string): Promise<{ body: Buffer; metadata: Record<string, string> }> {
    const { body, metadata } = await this.get(key, this.timeoutMs);
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(Buffer.from(chunk));
    return { body: Buffer.concat(chunks), metadata };
  }

  async head(key: string): Promise<{ metadata: Record<string, string>; size: number } | null> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.name, Key: key }), {
        abortSignal: this.signal(),
      });
      return { metadata: out.Metadata ?? {}, size: out.ContentLength ?? 0 };
    } catch (error) {
      if ((error as { name?: string }).name === 'NotFound') return null;
      throw error;
    }
  }

  /** Replaces an object's user metadata in place (server-side copy onto itself; no body transfer). */
  async replaceMetadata(key: string, metadata: Record<string, string>): Promise<void> {
    await this.client.send(
      new CopyObjectCommand({
        Bucket: this.name,
        Key: key,
        CopySource: `${this.name}/${key.split('/').map(encodeURIComponent).join('/')}`,
        Metadata: metadata,
        MetadataDirective: 'REPLACE',
      }),
      { abortSignal: this.signal() },
    );
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.name, Prefix: prefix, ContinuationToken: token }),
        { abortSignal: this.signal() },
      );
      for (const o of page.Contents ?? []) {
        if (o.Key) out.push({ key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  /** Deletes the keys (1000 per request); missing keys are not an error (S3 semantics). */
  async delete(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const out = await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.name,
          Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
        }),
        { abortSignal: this.signal() },
      );
      const failed = out.Errors ?? [];
      if (failed.length > 0) {
        throw new Error(
          `could not delete ${failed.length} object(s): ${failed[0]?.Code} ${failed[0]?.Message}`,
        );
      }
    }
  }

  destroy(): void {
    this.client.destroy();
  }
}
