// The call_recordings table: what the recorder writes and what data rights and retention read.
import type pg from 'pg';
import { type Keyring, phoneHashes } from '../memory/store/crypto.ts';

export interface RecordingRow {
  streamSid: string;
  callSid: string;
  objectKey: string;
  keyId: string;
  status: 'recording' | 'complete' | 'failed';
  bytes: number | null;
  durationMs: number | null;
  droppedBytes: number;
  startedAt: string;
  endedAt: string | null;
  expiresAt: string;
}

interface DbRow {
  stream_sid: string;
  call_sid: string;
  object_key: string;
  key_id: string;
  status: RecordingRow['status'];
  bytes: string | null;
  duration_ms: number | null;
  dropped_bytes: string;
  started_at: Date;
  ended_at: Date | null;
  expires_at: Date;
}

function toRow(r: DbRow): RecordingRow {
  return {
    streamSid: r.stream_sid,
    callSid: r.call_sid,
    objectKey: r.object_key,
    keyId: r.key_id,
    status: r.status,
    bytes: r.bytes === null ? null : Number(r.bytes),
    durationMs: r.duration_ms,
    droppedBytes: Number(r.dropped_bytes),
    startedAt: r.started_at.toISOString(),
    endedAt: r.ended_at ? r.ended_at.toISOString() : null,
    expiresAt: r.expires_at.toISOString(),
  };
}

export interface RecordingStart {
  streamSid: string;
  callSid: string;
  from: string;
  objectKey: string;
  keyId: string;
  startedAt: Date;
  retentionDays: number;
}

export class RecordingIndex {
  readonly #pool: pg.Pool;
  readonly #ring: Keyring;

  constructor(pool: pg.Pool, ring: Keyring) {
    this.#pool = pool;
    this.#ring = ring;
  }

  async begin(r: RecordingStart): Promise<void> {
    const hash = phoneHashes(this.#ring, r.from)[0] as Buffer;
    await this.#pool.query(
      `INSERT INTO call_recordings (stream_sid, call_sid, phone_hash, object_key, key_id, status, started_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, 'recording', $6, $6::timestamptz + make_interval(days => $7))`,
      [r.streamSid, r.callSid, hash, r.objectKey, r.keyId, r.startedAt, r.retentionDays],
    );
  }

  /** Marks the recording stored; false when its row is gone (the caller was forgotten meanwhile). */
  async complete(
    streamSid: string,
    result: { status: 'complete' | 'failed'; bytes: number; durationMs: number; droppedBytes: number },
  ): Promise<boolean> {
    const out = await this.#pool.query(
      `UPDATE call_recordings SET status = $2, bytes = $3, duration_ms = $4, dropped_bytes = $5, ended_at = now()
        WHERE stream_sid = $1`,
      [streamSid, result.status, result.bytes, result.durationMs, result.droppedBytes],
    );
    return (out.rowCount ?? 0) > 0;
  }

  async remove(streamSid: string): Promise<void> {
    await this.#pool.query('DELETE FROM call_recordings WHERE stream_sid = $1', [streamSid]);
  }
}

/** Every recording of a caller (under any key of the ring), oldest first. */
export async function recordingsOf(
  db: pg.Pool | pg.PoolClient,
  ring: Keyring,
  phone: string,
): Promise<RecordingRow[]> {
  const { rows } = await db.query<DbRow>(
    'SELECT * FROM call_recordings WHERE phone_hash = ANY($1::bytea[]) ORDER BY started_at, stream_sid',
    [phoneHashes(ring, phone)],
  );
  return rows.map(toRow);
}

/** Deletes the caller's recording rows inside the caller's transaction; returns their object keys. */
export async function deleteRecordingsOf(client: pg.PoolClient, hashes: Buffer[]): Promise<string[]> {
  const { rows } = await client.query<{ object_key: string }>(
    'DELETE FROM call_recordings WHERE phone_hash = ANY($1::bytea[]) RETURNING object_key',
    [hashes],
  );
  return rows.map((r) => r.object_key);
}

/** Rows past their retention (at most `limit`), for the sweep. */
export async function expiredRecordings(pool: pg.Pool, limit: number): Promise<RecordingRow[]> {
  const { rows } = await pool.query<DbRow>(
    'SELECT * FROM call_recordings WHERE expires_at < now() ORDER BY expires_at LIMIT $1',
    [limit],
  );
  return rows.map(toRow);
}
