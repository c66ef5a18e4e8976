// Streams bytes into one object with the S3 multipart API, holding at most `maxBufferedParts` parts
// in memory (the part being filled plus the ones uploading). S3 wants every part but the last to be
// at least 5 MiB, so a part is cut only at `partBytes`; an object that never reaches one part is
// written with a single PUT at the end and never opens an upload at all.
//
// Two ways to write: `offer()` never waits (the call recorder: bytes beyond the buffer budget are
// dropped and counted, the audio path is never blocked) and `write()` waits for room (backups).
// Every request carries the bucket's deadline; a failed upload is aborted so no orphan parts remain.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { Bucket } from './bucket.ts';

export const MIN_PART_BYTES = 5 * 1024 * 1024;

export interface MultipartOptions {
  partBytes?: number;
  /** Parts held at once (filling + uploading); bytes beyond that are dropped by offer(). */
  maxBufferedParts?: number;
  metadata?: Record<string, string>;
  contentType?: string;
}

export class MultipartWriter {
  readonly #bucket: Bucket;
  readonly key: string;
  readonly #partBytes: number;
  readonly #maxParts: number;
  readonly #metadata: Record<string, string>;
  readonly #contentType: string;
  #chunks: Buffer[] = [];
  #filled = 0;
  #uploadId: Promise<string> | undefined;
  #parts: Promise<{ PartNumber: number; ETag: string }>[] = [];
  #inFlight = 0;
  #waiters: (() => void)[] = [];
  #error: Error | undefined;
  #closed = false;
  /** Bytes accepted (and, once finished, stored). */
  written = 0;
  /** Bytes refused by offer() because the buffer budget was spent. */
  dropped = 0;

  constructor(bucket: Bucket, key: string, options: MultipartOptions = {}) {
    this.#bucket = bucket;
    this.key = key;
    this.#partBytes = Math.max(options.partBytes ?? MIN_PART_BYTES, MIN_PART_BYTES);
    this.#maxParts = Math.max(options.maxBufferedParts ?? 2, 2);
    this.#metadata = options.metadata ?? {};
    this.#contentType = options.contentType ?? 'application/octet-stream';
  }

  /** Bytes held in memory right now. */
  get bufferedBytes(): number {
    return this.#filled + this.#inFlight * this.#partBytes;
  }

  get failed(): Error | undefined {
    return this.#error;
  }

  /** Takes the bytes if they fit in the buffer budget; never waits. False: dropped (and counted). */
  offer(data: Buffer): boolean {
    if (this.#closed || this.#error) {
      this.dropped += data.length;
      return false;
    }
    const room = (this.#maxParts - this.#inFlight) * this.#partBytes - this.#filled;
    if (data.length > room) {
      this.dropped += data.length;
      return false;
    }
    this.#append(data);
    return true;
  }

  /** Takes the bytes, waiting while the buffer budget is spent. */
  async write(data: Buffer): Promise<void> {
    if (this.#closed) throw new Error('multipart writer closed');
    while (
      !this.#error &&
      this.#inFlight >= this.#maxParts - 1 &&
      this.#filled + data.length >= this.#partBytes
    ) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    if (this.#error) throw this.#error;
    this.#append(data);
  }

  #append(data: Buffer): void {
    this.#chunks.push(data);
    this.#filled += data.length;
    this.written += data.length;
    while (this.#filled >= this.#partBytes) this.#cutPart(this.#partBytes);
  }

  #cutPart(size: number): void {
    const all = Buffer.concat(this.#chunks);
    const part = all.subarray(0, size);
    const rest = all.subarray(size);
    this.#chunks = rest.length ? [Buffer.from(rest)] : [];
    this.#filled = rest.length;
    this.#startUpload(Buffer.from(part));
  }

  #startUpload(part: Buffer): void {
    const b = this.#bucket;
    this.#uploadId ??= b.client
      .send(
        new CreateMultipartUploadCommand({
          Bucket: b.name,
          Key: this.key,
          Metadata: this.#metadata,
          ContentType: this.#contentType,
        }),
        { abortSignal: b.signal() },
      )
      .then((out) => {
        if (!out.UploadId) throw new Error('no UploadId');
        return out.UploadId;
      });
    const partNumber = this.#parts.length + 1;
    this.#inFlight++;
    const done = this.#uploadId
      .then((UploadId) =>
        b.client.send(
          new UploadPartCommand({
            Bucket: b.name,
            Key: this.key,
            UploadId,
            PartNumber: partNumber,
            Body: part,
          }),
          { abortSignal: b.signal() },
        ),
      )
      .then((out) => ({ PartNumber: partNumber, ETag: out.ETag ?? '' }))
      .catch((error: Error) => {
        this.#error ??= error;
        throw error;
      })
      .finally(() => {
        this.#inFlight--;
        for (const w of this.#waiters.splice(0)) w();
      });
    done.catch(() => {});
    this.#parts.push(done);
  }

  /** Uploads what is left and completes the object. Rejects (after aborting the upload) on failure. */
  async finish(): Promise<void> {
    if (this.#closed) throw new Error('multipart writer already closed');
    this.#closed = true;
    const b = this.#bucket;
    const rest = Buffer.concat(this.#chunks);
    this.#chunks = [];
    this.#filled = 0;
    if (!this.#uploadId) {
      await b.client.send(
        new PutObjectCommand({
          Bucket: b.name,
          Key: this.key,
          Body: rest,
          Metadata: this.#metadata,
          ContentType: this.#contentType,
        }),
        { abortSignal: b.signal() },
      );
      return;
    }
    if (rest.length > 0 || this.#parts.length === 0) this.#startUpload(rest);
    try {
      const parts = await Promise.all(this.#parts);
      const UploadId = await this.#uploadId;
      await b.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: b.name,
          Key: this.key,
          UploadId,
          MultipartUpload: { Parts: parts },
        }),
        { abortSignal: b.signal() },
      );
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  /** Drops the upload: parts already stored are deleted by the server. Never rejects. */
  async abort(): Promise<void> {
    this.#closed = true;
    this.#chunks = [];
    this.#filled = 0;
    if (!this.#uploadId) return;
    const b = this.#bucket;
    try {
      const UploadId = await this.#uploadId;
      await Promise.allSettled(this.#parts);
      await b.client.send(new AbortMultipartUploadCommand({ Bucket: b.name, Key: this.key, UploadId }), {
        abortSignal: b.signal(),
      });
    } catch {
      // The bucket's lifecycle rule (AbortIncompleteMultipartUpload) removes what is left.
    }
  }
}
