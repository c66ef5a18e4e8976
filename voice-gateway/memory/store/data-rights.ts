// Caller data rights: export everything held about a number, forget it, and the audit trail of both.
// Forget deletes in one transaction under the same per-caller advisory lock as the call writer, and
// leaves an audit entry that doubles as the tombstone: a call record that started before the forget
// and reaches the database after it (a forget during a live call) is dropped by the writer.
import type pg from 'pg';
import { eraseFromCampaigns } from '../../campaign/recipients.ts';
import { deleteRecordingsOf, type RecordingRow, recordingsOf } from '../../recording/index-store.ts';
import { decrypt, type Keyring, normalizePhone, phoneHashes, tombstoneHashes } from './crypto.ts';
import { lockCaller } from './postgres-store.ts';
import { readProfile, readStoredText, type StoredText } from './stored-text.ts';
import { withTransaction } from './transaction.ts';

export interface CallerExport {
  exportedAt: string;
  found: boolean;
  caller?: {
    id: string;
    phone: string;
    profile: Record<string, string>;
    callCount: number;
    createdAt: string;
    lastCallAt: string | null;
  };
  calls: {
    callSid: string;
    to: string | null;
    startedAt: string;
    endedAt: string;
    outcome: string;
    recordedAt: string;
    transcript: { seq: number; role: string; text: string; atMs: number; at: string }[];
  }[];
  memories: { kind: string; text: string; createdAt: string; callSid: string | null }[];
  /** Call recordings (sealed WAV objects in the team's bucket; `callfleet memory export --recordings-dir` decrypts them). */
  recordings: RecordingRow[];
}

/** Deletes objects from the team's bucket (call recordings); absent when no bucket is configured. */
export interface ObjectDeleter {
  delete(keys: string[]): Promise<void>;
}

export interface ForgetResult {
  forgottenAt: string;
  subjectHash: string;
  counts: { callers: number; calls: number; transcriptTurns: number; memories: number; recordings: number };
}

export interface AuditEntry {
  id: number;
  action: 'forget' | 'export';
  subjectHash: string;
  actor: string;
  at: string;
  counts: Record<string, number>;
}

function iso(value: Date | null): string | null {
  return value ? value.toISOString() : null;
}

/** Every record about the caller, decrypted, as one JSON-able document. Audited (without the number). */
export async function exportCaller(
  pool: pg.Pool,
  ring: Keyring,
  phone: string,
  actor: string,
): Promise<CallerExport> {
  const normalized = normalizePhone(phone);
  const result: CallerExport = {
    exportedAt: new Date().toISOString(),
    found: false,
    calls: [],
    memories: [],
    recordings: [],
  };
  await withTransaction(
    pool,
    async (client) => {
      const callers = await client.query<{
        id: string;
        phone_enc: Buffer;
        key_id: string;
        profile: Record<string, string>;
        profile_enc: Buffer | null;
        call_count: number;
        created_at: Date;
        last_call_at: Date | null;
      }>('SELECT * FROM callers WHERE phone_hash = ANY($1::bytea[])', [phoneHashes(ring, normalized)]);
      const caller = callers.rows[0];
      if (caller) {
        const id = caller.id;
        result.found = true;
        result.caller = {
          id,
          phone: decrypt(ring, caller.key_id, caller.phone_enc, 'phone'),
          profile: readProfile(ring, id, caller.profile, caller.profile_enc, caller.key_id),
          callCount: caller.call_count,
          createdAt: caller.created_at.toISOString(),
          lastCallAt: iso(caller.last_call_at),
        };
        const calls = await client.query<{
          id: string;
          call_sid: string;
          to_enc: Buffer | null;
          key_id: string;
          started_at: Date;
          ended_at: Date;
          outcome: string;
          recorded_at: Date;
        }>('SELECT * FROM calls WHERE caller_id = $1 ORDER BY started_at', [id]);
        const turns = await client.query<
          StoredText & { call_id: string; seq: number; role: string; at_ms: number; created_at: Date }
        >(
          'SELECT call_id, seq, role, at_ms, text, text_enc, key_id, created_at FROM transcript_turns WHERE caller_id = $1 ORDER BY call_id, seq',
          [id],
        );
        const sidById = new Map(calls.rows.map((c) => [c.id, c.call_sid]));
        result.calls = calls.rows.map((c) => ({
          callSid: c.call_sid,
          to: c.to_enc ? decrypt(ring, c.key_id, c.to_enc, `to:${id}`) : null,
          startedAt: c.started_at.toISOString(),
          endedAt: c.ended_at.toISOString(),
          outcome: c.outcome,
          recordedAt: c.recorded_at.toISOString(),
          transcript: turns.rows
            .filter((t) => t.call_id === c.id)
            .map((t) => ({
              seq: t.seq,
              role: t.role,
              text: readStoredText(ring, t, `turn:${id}`),
              atMs: t.at_ms,
              at: t.created_at.toISOString(),
            })),
        }));
        const memories = await client.query<
          StoredText & { kind: string; created_at: Date; call_id: string | null }
        >(
          'SELECT kind, text, text_enc, key_id, created_at, call_id FROM memories WHERE caller_id = $1 ORDER BY created_at',
          [id],
        );
        result.memories = memories.rows.map((m) => ({
          kind: m.kind,
          text: readStoredText(ring, m, `memory:${id}`),
          createdAt: m.created_at.toISOString(),
          callSid: m.call_id ? (sidById.get(m.call_id) ?? null) : null,
        }));
      }
      result.recordings = await recordingsOf(client, ring, normalized);
      if (result.recordings.length > 0) result.found = true;
    },
    { begin: 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' },
  );
  await pool.query(
    `INSERT INTO memory_audit (action, subject_hash, actor, counts) VALUES ('export', $1, $2, $3)`,
    [
      tombstoneHashes(ring, normalized)[0],
      actor,
      JSON.stringify({
        callers: result.found ? 1 : 0,
        calls: result.calls.length,
        transcriptTurns: result.calls.reduce((n, c) => n + c.transcript.length, 0),
        memories: result.memories.length,
        recordings: result.recordings.length,
      }),
    ],
  );
  return result;
}

/**
 * Deletes every row about the caller in one transaction and records the audit entry / tombstone.
 * A tombstone is written even when nothing is stored yet: the caller may be on their first call.
 */
export async function forgetCaller(
  pool: pg.Pool,
  ring: Keyring,
  phone: string,
  actor: string,
  objects?: ObjectDeleter,
): Promise<ForgetResult> {
  const normalized = normalizePhone(phone);
  const hashes = phoneHashes(ring, normalized);
  const subject = tombstoneHashes(ring, normalized)[0] as Buffer;
  return withTransaction(pool, async (client) => {
    await lockCaller(client, hashes[0] as Buffer);
    const counted = await client.query<{ callers: number; calls: number; turns: number; memories: number }>(
      `WITH c AS (SELECT id FROM callers WHERE phone_hash = ANY($1::bytea[]) FOR UPDATE)
       SELECT (SELECT count(*) FROM c)::int AS callers,
              (SELECT count(*) FROM calls WHERE caller_id IN (SELECT id FROM c))::int AS calls,
              (SELECT count(*) FROM transcript_turns WHERE caller_id IN (SELECT id FROM c))::int AS turns,
              (SELECT count(*) FROM memories WHERE caller_id IN (SELECT id FROM c))::int AS memories`,
      [hashes],
    );
    const row = counted.rows[0] ?? { callers: 0, calls: 0, turns: 0, memories: 0 };
    // Children first (explicitly, not only by cascade) so the counts and the deletes see the same rows.
    await client.query(
      'DELETE FROM transcript_turns WHERE caller_id IN (SELECT id FROM callers WHERE phone_hash = ANY($1::bytea[]))',
      [hashes],
    );
    await client.query(
      'DELETE FROM memories WHERE caller_id IN (SELECT id FROM callers WHERE phone_hash = ANY($1::bytea[]))',
      [hashes],
    );
    await client.query('DELETE FROM callers WHERE phone_hash = ANY($1::bytea[])', [hashes]);
    // Recordings: the objects go before the rows commit, so a failed delete leaves the caller intact
    // (and the forget retryable) rather than rows gone and audio still in the bucket.
    const recordingKeys = await deleteRecordingsOf(client, hashes);
    if (recordingKeys.length > 0) {
      if (!objects) {
        throw new Error(
          `the caller has ${recordingKeys.length} call recording(s) in the bucket: forget needs the bucket (--bucket or CALLFLEET_OBJECT_STORAGE)`,
        );
      }
      await objects.delete(recordingKeys);
    }
    // Recipients of campaigns not yet dialed are canceled and their number and variables dropped.
    await eraseFromCampaigns(client, hashes);
    const counts = {
      callers: row.callers,
      calls: row.calls,
      transcriptTurns: row.turns,
      memories: row.memories,
      recordings: recordingKeys.length,
    };
    const audit = await client.query<{ at: Date }>(
      `INSERT INTO memory_audit (action, subject_hash, actor, counts) VALUES ('forget', $1, $2, $3) RETURNING at`,
      [subject, actor, JSON.stringify(counts)],
    );
    return {
      forgottenAt: (audit.rows[0]?.at ?? new Date()).toISOString(),
      subjectHash: subject.toString('hex'),
      counts,
    };
  });
}

export async function listAudit(
  pool: pg.Pool,
  options: { limit?: number; action?: 'forget' | 'export' } = {},
): Promise<AuditEntry[]> {
  const { rows } = await pool.query<{
    id: string;
    action: 'forget' | 'export';
    subject_hash: Buffer;
    actor: string;
    at: Date;
    counts: Record<string, number>;
  }>(
    `SELECT id, action, subject_hash, actor, at, counts FROM memory_audit
      WHERE $1::text IS NULL OR action = $1 ORDER BY at DESC, id DESC LIMIT $2`,
    [options.action ?? null, options.limit ?? 100],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    action: r.action,
    subjectHash: r.subject_hash.toString('hex'),
    actor: r.actor,
    at: r.at.toISOString(),
    counts: r.counts,
  }));
}
