// Key rotation, second half: moves every row (and every sealed recording's data key) still under an
// older key to the keyring's active key. Run after the new key was put first in the encryption Secret
// and the gateways restarted; rows stay readable throughout (the old key is still in the ring), and
// once `remaining` is all zero the old key can leave the ring (docs/guides/object-storage.md).
//
// Batches of `batch` rows, each in its own short transaction with the rows locked (FOR UPDATE SKIP
// LOCKED), so it runs beside live traffic and can be stopped and re-run at any point.
import type pg from 'pg';
import type { Bucket } from '../../storage/bucket.ts';
import { rewrapMetadata } from '../../storage/sealed.ts';
import { decrypt, encrypt, type Keyring, phoneHashes, searchTokens } from './crypto.ts';
import { withTransaction } from './transaction.ts';

export interface RekeyCounts {
  callers: number;
  calls: number;
  transcriptTurns: number;
  memories: number;
  handoffs: number;
  recordings: number;
}

export interface RekeyResult {
  activeKey: string;
  rekeyed: RekeyCounts;
  /** Rows still under another key (0 everywhere: the old keys can be retired). */
  remaining: RekeyCounts;
  seconds: number;
}

async function rekeyCallers(pool: pg.Pool, ring: Keyring, batch: number): Promise<number> {
  const key = ring.active;
  return withTransaction(pool, async (c) => {
    const { rows } = await c.query<{
      id: string;
      phone_hash: Buffer;
      phone_enc: Buffer;
      key_id: string;
      profile_enc: Buffer | null;
    }>(
      `SELECT id, phone_hash, phone_enc, key_id, profile_enc FROM callers WHERE key_id <> $1
        LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [key.id, batch],
    );
    for (const r of rows) {
      const phone = decrypt(ring, r.key_id, r.phone_enc, 'phone');
      const hash = phoneHashes(ring, phone)[0] as Buffer;
      const profile = r.profile_enc
        ? encrypt(key, decrypt(ring, r.key_id, r.profile_enc, `profile:${r.id}`), `profile:${r.id}`)
        : null;
      await c.query(
        'UPDATE callers SET phone_hash = $2, phone_enc = $3, key_id = $4, profile_enc = $5 WHERE id = $1',
        [r.id, hash, encrypt(key, phone, 'phone'), key.id, profile],
      );
      // The recordings index finds a caller by the same lookup hash.
      await c.query('UPDATE call_recordings SET phone_hash = $2 WHERE phone_hash = $1', [r.phone_hash, hash]);
    }
    return rows.length;
  });
}

async function rekeyCalls(pool: pg.Pool, ring: Keyring, batch: number): Promise<number> {
  const key = ring.active;
  return withTransaction(pool, async (c) => {
    const { rows } = await c.query<{ id: string; caller_id: string; to_enc: Buffer | null; key_id: string }>(
      'SELECT id, caller_id, to_enc, key_id FROM calls WHERE key_id <> $1 LIMIT $2 FOR UPDATE SKIP LOCKED',
      [key.id, batch],
    );
    for (const r of rows) {
      const aad = `to:${r.caller_id}`;
      const to = r.to_enc ? encrypt(key, decrypt(ring, r.key_id, r.to_enc, aad), aad) : null;
      await c.query('UPDATE calls SET to_enc = $2, key_id = $3 WHERE id = $1', [r.id, to, key.id]);
    }
    return rows.length;
  });
}

/** transcript_turns and memories: the text is re-encrypted and its blind index re-tokenised. */
async function rekeyText(
  pool: pg.Pool,
  ring: Keyring,
  batch: number,
  table: 'transcript_turns' | 'memories',
): Promise<number> {
  const key = ring.active;
  const id = table === 'memories' ? 'id::text' : "call_id::text || ':' || seq::text";
  const match = table === 'memories' ? 'id::text = $1' : "call_id::text || ':' || seq::text = $1";
  const purpose = table === 'memories' ? 'memory' : 'turn';
  return withTransaction(pool, async (c) => {
    const { rows } = await c.query<{ rid: string; caller_id: string; text_enc: Buffer; key_id: string }>(
      `SELECT ${id} AS rid, caller_id, text_enc, key_id FROM ${table}
        WHERE text_enc IS NOT NULL AND key_id <> $1 LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [key.id, batch],
    );
    for (const r of rows) {
      const aad = `${purpose}:${r.caller_id}`;
      const text = decrypt(ring, r.key_id, r.text_enc, aad);
      await c.query(`UPDATE ${table} SET text_enc = $2, key_id = $3, tsv = $4::tsvector WHERE ${match}`, [
        r.rid,
        encrypt(key, text, aad),
        key.id,
        searchTokens(key, text).join(' '),
      ]);
    }
    return rows.length;
  });
}

async function rekeyHandoffs(pool: pg.Pool, ring: Keyring, batch: number): Promise<number> {
  const key = ring.active;
  return withTransaction(pool, async (c) => {
    const { rows } = await c.query<{ call_sid: string; payload_enc: Buffer; key_id: string }>(
      `SELECT call_sid, payload_enc, key_id FROM call_handoffs WHERE key_id <> $1
        LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [key.id, batch],
    );
    for (const r of rows) {
      const aad = `handoff:${r.call_sid}`;
      await c.query('UPDATE call_handoffs SET payload_enc = $2, key_id = $3 WHERE call_sid = $1', [
        r.call_sid,
        encrypt(key, decrypt(ring, r.key_id, r.payload_enc, aad), aad),
        key.id,
      ]);
    }
    return rows.length;
  });
}

/** Re-wraps each recording's data key in its object metadata (a server-side copy, not a re-upload). */
async function rekeyRecordings(pool: pg.Pool, ring: Keyring, batch: number, bucket: Bucket): Promise<number> {
  const key = ring.active;
  return withTransaction(pool, async (c) => {
    const { rows } = await c.query<{ stream_sid: string; object_key: string }>(
      `SELECT stream_sid, object_key FROM call_recordings WHERE key_id <> $1 AND status = 'complete'
        LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [key.id, batch],
    );
    for (const r of rows) {
      const head = await bucket.head(r.object_key);
      if (head) {
        const purpose = `recording:${r.stream_sid}`;
        await bucket.replaceMetadata(r.object_key, rewrapMetadata(ring, head.metadata, purpose));
      }
      await c.query('UPDATE call_recordings SET key_id = $2 WHERE stream_sid = $1', [r.stream_sid, key.id]);
    }
    return rows.length;
  });
}

export async function remainingUnderOldKeys(pool: pg.Pool, activeKeyId: string): Promise<RekeyCounts> {
  const { rows } = await pool.query<Record<keyof RekeyCounts, number>>(
    `SELECT (SELECT count(*) FROM callers WHERE key_id <> $1)::int AS callers,
            (SELECT count(*) FROM calls WHERE key_id <> $1)::int AS calls,
            (SELECT count(*) FROM transcript_turns WHERE text_enc IS NOT NULL AND key_id <> $1)::int AS "transcriptTurns",
            (SELECT count(*) FROM memories WHERE text_enc IS NOT NULL AND key_id <> $1)::int AS memories,
            (SELECT count(*) FROM call_handoffs WHERE key_id <> $1)::int AS handoffs,
            (SELECT count(*) FROM call_recordings WHERE key_id <> $1 AND status = 'complete')::int AS recordings`,
    [activeKeyId],
  );
  return rows[0] as RekeyCounts;
}

export async function rekey(
  pool: pg.Pool,
  ring: Keyring,
  options: { batch?: number; bucket?: Bucket | undefined } = {},
): Promise<RekeyResult> {
  const started = performance.now();
  const batch = options.batch ?? 500;
  const rekeyed: RekeyCounts = {
    callers: 0,
    calls: 0,
    transcriptTurns: 0,
    memories: 0,
    handoffs: 0,
    recordings: 0,
  };
  const drain = async (field: keyof RekeyCounts, step: () => Promise<number>) => {
    for (;;) {
      const n = await step();
      rekeyed[field] += n;
      if (n < batch) return;
    }
  };
  await drain('callers', () => rekeyCallers(pool, ring, batch));
  await drain('calls', () => rekeyCalls(pool, ring, batch));
  await drain('transcriptTurns', () => rekeyText(pool, ring, batch, 'transcript_turns'));
  await drain('memories', () => rekeyText(pool, ring, batch, 'memories'));
  await drain('handoffs', () => rekeyHandoffs(pool, ring, batch));
  const bucket = options.bucket;
  if (bucket) await drain('recordings', () => rekeyRecordings(pool, ring, batch, bucket));
  return {
    activeKey: ring.active.id,
    rekeyed,
    remaining: await remainingUnderOldKeys(pool, ring.active.id),
    seconds: (performance.now() - started) / 1000,
  };
}
