// Memory backups in the team's bucket: sealed dumps under <prefix>backups/, kept by count and by age.
import type pg from 'pg';
import type { Bucket, ObjectInfo } from '../../storage/bucket.ts';
import { MultipartWriter } from '../../storage/multipart.ts';
import { openSealed, Sealer } from '../../storage/sealed.ts';
import type { Keyring } from '../store/crypto.ts';
import { dumpMemory } from './dump.ts';
import { BACKUP_PURPOSE } from './format.ts';
import { type RestoreResult, restoreMemory } from './restore.ts';

const SUFFIX = '.cfbackup';

export function backupsPrefix(bucket: Bucket): string {
  return bucket.key('backups/');
}

function stamp(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

export interface BackupResult {
  key: string;
  keyId: string;
  rows: Record<string, number>;
  plaintextBytes: number;
  storedBytes: number;
  seconds: number;
  pruned: string[];
}

export interface Retention {
  keep: number;
  maxAgeDays?: number | undefined;
}

export async function backupToBucket(
  pool: pg.Pool,
  bucket: Bucket,
  ring: Keyring,
  retention?: Retention,
  now = new Date(),
): Promise<BackupResult> {
  const started = performance.now();
  const key = `${backupsPrefix(bucket)}memory-${stamp(now)}${SUFFIX}`;
  const sealer = new Sealer(ring.active, BACKUP_PURPOSE);
  const writer = new MultipartWriter(bucket, key, { metadata: sealer.metadata, partBytes: 8 * 1024 * 1024 });
  let dumped: Awaited<ReturnType<typeof dumpMemory>>;
  try {
    dumped = await dumpMemory(pool, ring.active.id, async (chunk) => {
      for (const segment of sealer.push(chunk)) await writer.write(segment);
    });
    await writer.write(sealer.final());
    await writer.finish();
  } catch (error) {
    await writer.abort();
    throw error;
  }
  const pruned = retention ? await pruneBackups(bucket, retention, now) : [];
  return {
    key,
    keyId: ring.active.id,
    rows: dumped.rows,
    plaintextBytes: dumped.bytes,
    storedBytes: writer.written,
    seconds: (performance.now() - started) / 1000,
    pruned,
  };
}

/** The backups in the bucket, newest first. */
export async function listBackups(bucket: Bucket): Promise<ObjectInfo[]> {
  const all = await bucket.list(backupsPrefix(bucket));
  return all.filter((o) => o.key.endsWith(SUFFIX)).sort((a, b) => (a.key < b.key ? 1 : -1));
}

/**
 * Keeps the newest `keep` backups and, of those, drops the ones older than maxAgeDays — except the
 * newest backup, which is never deleted (an old backup beats none).
 */
export async function pruneBackups(bucket: Bucket, r: Retention, now = new Date()): Promise<string[]> {
  const backups = await listBackups(bucket);
  const cutoff = r.maxAgeDays ? now.getTime() - r.maxAgeDays * 86_400_000 : Number.NEGATIVE_INFINITY;
  const doomed = backups
    .filter((b, i) => i > 0 && (i >= r.keep || b.lastModified.getTime() < cutoff))
    .map((b) => b.key);
  if (doomed.length) await bucket.delete(doomed);
  return doomed;
}

/** `latest`, a full key, or a key relative to the backups prefix. */
export async function resolveBackup(bucket: Bucket, from: string): Promise<string> {
  if (from === 'latest') {
    const newest = (await listBackups(bucket))[0];
    if (!newest) throw new Error(`no backups under s3://${bucket.name}/${backupsPrefix(bucket)}`);
    return newest.key;
  }
  return from.startsWith(backupsPrefix(bucket)) || from.includes('/')
    ? from
    : `${backupsPrefix(bucket)}${from}`;
}

export async function restoreFromBucket(
  pool: pg.Pool,
  bucket: Bucket,
  ring: Keyring,
  from: string,
): Promise<RestoreResult & { key: string; seconds: number }> {
  const started = performance.now();
  const key = await resolveBackup(bucket, from);
  const { body, metadata } = await bucket.get(key);
  const result = await restoreMemory(pool, openSealed(ring, metadata, BACKUP_PURPOSE, body));
  return { ...result, key, seconds: (performance.now() - started) / 1000 };
}
