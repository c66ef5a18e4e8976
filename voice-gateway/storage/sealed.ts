// Sealed objects: what callfleet writes to a bucket (memory backups, call recordings) is encrypted
// before it leaves the process. Envelope encryption: each object has its own random 256-bit data key
// (DEK); the DEK is wrapped with the keyring's object sub-key (AES-256-GCM, AAD = the object's
// purpose) and stored in the object's user metadata with the key id. Rotating the keyring re-wraps
// the DEK in the metadata (a server-side copy), never the body.
//
// The body is a stream of 64 KiB segments, each AES-256-GCM with the DEK; nonce = 11-byte segment
// counter | 1-byte last flag (the STREAM construction), so segments cannot be reordered, dropped or
// the stream truncated without the open failing. Memory is one segment, whatever the object's size.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Keyring, KeyringKey } from '../memory/store/crypto.ts';

export const SEGMENT_BYTES = 64 * 1024;
const TAG = 16;
const FORMAT = 'cfseg1';

export const META_FORMAT = 'callfleet-format';
export const META_KEY_ID = 'callfleet-key-id';
export const META_DEK = 'callfleet-dek';

function nonce(counter: number, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  n.writeUIntBE(counter, 5, 6);
  n[11] = last ? 1 : 0;
  return n;
}

function wrapDek(key: KeyringKey, dek: Buffer, purpose: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key.objectKey, iv);
  c.setAAD(Buffer.from(`callfleet-object:${purpose}`));
  const ct = Buffer.concat([c.update(dek), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64');
}

export function unwrapDek(ring: Keyring, metadata: Record<string, string>, purpose: string): Buffer {
  if (metadata[META_FORMAT] !== FORMAT) {
    throw new Error(
      `not a sealed callfleet object (metadata ${META_FORMAT}=${metadata[META_FORMAT] ?? 'absent'})`,
    );
  }
  const keyId = metadata[META_KEY_ID] ?? '';
  const key = ring.byId.get(keyId);
  if (!key)
    throw new Error(`sealed with key id "${keyId}", which is not in the keyring (restore the key first)`);
  const blob = Buffer.from(metadata[META_DEK] ?? '', 'base64');
  const d = createDecipheriv('aes-256-gcm', key.objectKey, blob.subarray(0, 12));
  d.setAAD(Buffer.from(`callfleet-object:${purpose}`));
  d.setAuthTag(blob.subarray(12, 28));
  try {
    return Buffer.concat([d.update(blob.subarray(28)), d.final()]);
  } catch {
    throw new Error(`sealed object: its data key does not open under key "${keyId}" for ${purpose}`);
  }
}

/** The metadata of the same object re-wrapped under the ring's active key (key rotation). */
export function rewrapMetadata(
  ring: Keyring,
  metadata: Record<string, string>,
  purpose: string,
): Record<string, string> {
  const dek = unwrapDek(ring, metadata, purpose);
  return {
    ...metadata,
    [META_KEY_ID]: ring.active.id,
    [META_DEK]: wrapDek(ring.active, dek, purpose),
  };
}

/** Encrypts a stream incrementally: push plaintext, get whole sealed segments back; final() ends it. */
export class Sealer {
  readonly metadata: Record<string, string>;
  readonly #dek: Buffer;
  #buffer = Buffer.allocUnsafe(SEGMENT_BYTES);
  #filled = 0;
  #counter = 0;
  #done = false;

  constructor(key: KeyringKey, purpose: string) {
    this.#dek = randomBytes(32);
    this.metadata = {
      [META_FORMAT]: FORMAT,
      [META_KEY_ID]: key.id,
      [META_DEK]: wrapDek(key, this.#dek, purpose),
    };
  }

  /** Sealed bytes of every segment completed by this push (possibly none). */
  push(plain: Uint8Array): Buffer[] {
    if (this.#done) throw new Error('sealer already finished');
    const out: Buffer[] = [];
    let offset = 0;
    while (offset < plain.length) {
      // A full segment is sealed only once more data follows, so the last one can carry the last flag.
      if (this.#filled === SEGMENT_BYTES) out.push(this.#seal(false));
      const n = Math.min(plain.length - offset, SEGMENT_BYTES - this.#filled);
      this.#buffer.set(plain.subarray(offset, offset + n), this.#filled);
      this.#filled += n;
      offset += n;
    }
    return out;
  }

  /** The last segment (possibly empty); after this the object is complete. */
  final(): Buffer {
    if (this.#done) throw new Error('sealer already finished');
    this.#done = true;
    return this.#seal(true);
  }

  #seal(last: boolean): Buffer {
    const c = createCipheriv('aes-256-gcm', this.#dek, nonce(this.#counter++, last));
    const body = Buffer.concat([c.update(this.#buffer.subarray(0, this.#filled)), c.final(), c.getAuthTag()]);
    this.#filled = 0;
    return body;
  }
}

/** Decrypts a sealed body stream; throws on any tampering, reordering or truncation. */
export async function* openSealed(
  ring: Keyring,
  metadata: Record<string, string>,
  purpose: string,
  body: AsyncIterable<Uint8Array>,
): AsyncGenerator<Buffer> {
  const dek = unwrapDek(ring, metadata, purpose);
  const whole = SEGMENT_BYTES + TAG;
  let pending = Buffer.alloc(0);
  let counter = 0;
  const open = (segment: Buffer, last: boolean): Buffer => {
    const d = createDecipheriv('aes-256-gcm', dek, nonce(counter++, last));
    d.setAuthTag(segment.subarray(segment.length - TAG));
    try {
      return Buffer.concat([d.update(segment.subarray(0, segment.length - TAG)), d.final()]);
    } catch {
      throw new Error(`sealed object: segment ${counter - 1} failed authentication (tampered or truncated)`);
    }
  };
  for await (const chunk of body) {
    pending = pending.length ? Buffer.concat([pending, chunk]) : Buffer.from(chunk);
    // Keep at least one whole segment back: only the stream's end tells which segment is the last.
    while (pending.length > whole) {
      yield open(pending.subarray(0, whole), false);
      pending = pending.subarray(whole);
    }
  }
  if (pending.length < TAG) throw new Error('sealed object: truncated (no final segment)');
  yield open(pending, true);
}
