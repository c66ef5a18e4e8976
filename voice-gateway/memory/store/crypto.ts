// Field-level protection of caller PII: AES-256-GCM for values, HMAC-SHA256 keyed hashes for lookups,
// and keyed tokens for full-text search over encrypted text (see docs/adr/0003-caller-memory-pii.md).
//
// A keyring holds one or more 32-byte master keys, each with an id. The first key is active: new
// values are encrypted and hashed with it. Every key can still decrypt, and lookups try the hashes of
// all keys, so a key can be rotated in by putting it first and the old one rotated out once no row
// carries its id any more. Each purpose uses its own sub-key derived with HKDF, so the value stored for
// lookup (phone hash), for the forget tombstone and for search tokens cannot be linked to each other.
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const VERSION = 1;

export interface KeyringKey {
  id: string;
  encKey: Buffer;
  phoneHashKey: Buffer;
  tombstoneKey: Buffer;
  searchKey: Buffer;
  /** Wraps the per-object data keys of sealed objects in the bucket (backups, call recordings). */
  objectKey: Buffer;
}

export interface Keyring {
  active: KeyringKey;
  keys: KeyringKey[];
  byId: Map<string, KeyringKey>;
}

function derive(master: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `callfleet/${info}/v1`, 32));
}

function decodeMaster(text: string): Buffer {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  const decoded = Buffer.from(trimmed, 'base64');
  if (decoded.length === 32) return decoded;
  throw new Error('encryption key must be 32 bytes, hex (64 chars) or base64 (44 chars)');
}

export function keyFromMaster(id: string, master: Buffer): KeyringKey {
  if (master.length !== 32) throw new Error(`encryption key ${id}: must be 32 bytes, got ${master.length}`);
  if (!/^[A-Za-z0-9._-]{1,32}$/.test(id))
    throw new Error(`encryption key id "${id}": use 1-32 of [A-Za-z0-9._-]`);
  return {
    id,
    encKey: derive(master, 'aes-256-gcm'),
    phoneHashKey: derive(master, 'phone-hash'),
    tombstoneKey: derive(master, 'tombstone'),
    searchKey: derive(master, 'search-token'),
    objectKey: derive(master, 'object-dek'),
  };
}

/**
 * Parses `CALLFLEET_ENCRYPTION_KEY`: either one key (hex or base64 of 32 bytes; its id is derived from
 * its fingerprint) or a comma-separated list `id:key,id:key` whose first entry is the active key.
 */
export function parseKeyring(spec: string): Keyring {
  const parts = spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new Error('encryption key: empty');
  const keys = parts.map((part) => {
    const colon = part.indexOf(':');
    if (colon > 0) return keyFromMaster(part.slice(0, colon), decodeMaster(part.slice(colon + 1)));
    const master = decodeMaster(part);
    const id = `k${createHash('sha256').update(master).digest('hex').slice(0, 8)}`;
    return keyFromMaster(id, master);
  });
  const byId = new Map<string, KeyringKey>();
  for (const key of keys) {
    if (byId.has(key.id)) throw new Error(`encryption key: duplicate key id "${key.id}"`);
    byId.set(key.id, key);
  }
  return { active: keys[0] as KeyringKey, keys, byId };
}

export function generateKeySpec(id = 'k1'): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}

/** version(1) | iv(12) | tag(16) | ciphertext. The key id is stored beside it in its own column. */
export function encrypt(key: KeyringKey, plaintext: string, aad: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.encKey, iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]);
}

export function decrypt(ring: Keyring, keyId: string, blob: Buffer, aad: string): string {
  const key = ring.byId.get(keyId);
  if (!key) throw new Error(`no encryption key with id "${keyId}" in the keyring (rotated out too early?)`);
  if (blob[0] !== VERSION) throw new Error(`unknown ciphertext version ${blob[0]}`);
  const iv = blob.subarray(1, 1 + IV_BYTES);
  const tag = blob.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key.encKey, iv);
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(blob.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]).toString(
    'utf8',
  );
}

/** Normalises a phone number to the form that is hashed: `+` and digits only. */
export function normalizePhone(phone: string): string {
  const digits = phone.replace(/[^\d]/g, '');
  if (digits.length < 3 || digits.length > 15)
    throw new Error('phone number: expected E.164 (+ and 3-15 digits)');
  return `+${digits}`;
}

/** Keyed hashes of the number under every key, active first: the lookup tries them all. */
export function phoneHashes(ring: Keyring, phone: string): Buffer[] {
  const normalized = normalizePhone(phone);
  return ring.keys.map((k) => createHmac('sha256', k.phoneHashKey).update(normalized).digest());
}

/** A different keyed hash, for forget tombstones and audit entries: never equal to the lookup hash. */
export function tombstoneHashes(ring: Keyring, phone: string): Buffer[] {
  const normalized = normalizePhone(phone);
  return ring.keys.map((k) => createHmac('sha256', k.tombstoneKey).update(normalized).digest());
}

/** `+1******4567`: the only form of a phone number that may appear in a log line. */
export function maskPhone(phone: string): string {
  const digits = phone.replace(/[^\d]/g, '');
  if (digits.length <= 5) return '+******';
  return `+${digits.slice(0, 1)}${'*'.repeat(digits.length - 5)}${digits.slice(-4)}`;
}

const STOPWORDS = new Set(
  'a an and are as at be but by for from has have i if in is it its me my of on or our so that the their then there these they this to was we were what when where which who will with you your'.split(
    ' ',
  ),
);

/** Words of a text, lower-cased, accents stripped, stop words dropped, a plural `s` stemmed. */
export function searchTerms(text: string): string[] {
  const words = text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u);
  const terms = new Set<string>();
  for (const word of words) {
    if (word.length < 2 || STOPWORDS.has(word)) continue;
    terms.add(word.length > 3 && word.endsWith('s') && !word.endsWith('ss') ? word.slice(0, -1) : word);
  }
  return [...terms];
}

/** Keyed search tokens (16 hex chars) for a text, under one key: a blind index for tsvector. */
export function searchTokens(key: KeyringKey, text: string): string[] {
  return searchTerms(text).map((t) =>
    createHmac('sha256', key.searchKey).update(t).digest('hex').slice(0, 16),
  );
}
