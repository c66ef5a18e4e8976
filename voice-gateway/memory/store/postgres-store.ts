// CallerMemory on PostgreSQL. Phone numbers are only ever stored as a keyed hash (lookup) and an
// AES-256-GCM ciphertext; transcript and memory text is encrypted too unless `encryptText` is off.
// The call path never waits on the database: lookup() races a time budget, record() only enqueues.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { within } from '../../lib/deadline.ts';
import type { Recordings, RecordingTap } from '../../recording/recorder.ts';
import { MemoryMetrics } from '../metrics.ts';
import type {
  CallerContext,
  CallerMemory,
  CallRecord,
  HandoffRecord,
  MemoryItem,
  MemoryKind,
} from '../types.ts';
import { checkCallRecord } from './call-record.ts';
import {
  decrypt,
  encrypt,
  type Keyring,
  maskPhone,
  normalizePhone,
  phoneHashes,
  searchTokens,
  tombstoneHashes,
} from './crypto.ts';
import { readProfile, readStoredText, type StoredText } from './stored-text.ts';
import { rollback, withTransaction } from './transaction.ts';
import { PermanentWriteError, WriteQueue, type WriteQueueOptions } from './write-queue.ts';

export interface MemoryLogger {
  warn(obj: object, msg: string): void;
}

export interface PostgresMemoryOptions {
  pool: pg.Pool;
  keyring: Keyring;
  /** Encrypt transcript, memory and profile text (phone numbers are always encrypted). Default true. */
  encryptText?: boolean;
  /** How many recent memories lookup() returns. Default 10. */
  recentMemories?: number;
  /**
   * Store transcript turns (and the summary derived from them). Default true; when false only a summary
   * the backend gave and explicit memories are kept.
   */
  recordTranscripts?: boolean;
  /**
   * Store memories from each call: the summary (the backend's, or derived from what the caller said) and
   * the facts the call record carries. Default true; when false a call leaves no memory (only the call
   * itself and, if recorded, its transcript).
   */
  extractMemories?: boolean;
  queue?: WriteQueueOptions;
  logger?: MemoryLogger;
  /** Where lookups and dropped writes are counted (the runtime passes the gateway's registry's set). */
  metrics?: MemoryMetrics;
  /** How long a hand-off record waits for the pod resuming the call. Default 10 minutes. */
  handoffTtlMs?: number;
}

export type WriteOutcome = 'written' | 'duplicate' | 'forgotten';

const SUMMARY_CHARS = 400;

/** A profile fact is a memory of kind `fact` shaped `key: value`, e.g. `name: Ada`. */
const PROFILE_FACT = /^\s*([A-Za-z][\w ]{0,40}?)\s*[:=]\s*(.{1,200})$/s;

interface CallerRow {
  id: string;
  key_id: string;
  phone_hash: Buffer;
  profile: Record<string, string>;
  profile_enc: Buffer | null;
}

type NewMemory = { kind: MemoryKind; text: string };

/** What the steps after the call row need: the transaction's client and the two ids. */
interface CallRows {
  client: pg.PoolClient;
  callId: string;
  callerId: string;
}

export function lockKeyOf(hash: Buffer): string {
  return hash.readBigInt64BE(0).toString();
}

/**
 * The per-caller lock every writer of a caller's rows takes first (the call writer and forget), for
 * the rest of the transaction.
 */
export async function lockCaller(client: pg.ClientBase, activeHash: Buffer): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [lockKeyOf(activeHash)]);
}

/** When the number was last forgotten (its tombstone in the audit trail), if ever. */
async function forgottenSince(client: pg.ClientBase, tombstones: Buffer[]): Promise<Date | null> {
  const forgotten = await client.query<{ at: Date | null }>(
    `SELECT max(at) AS at FROM memory_audit WHERE action = 'forget' AND subject_hash = ANY($1::bytea[])`,
    [tombstones],
  );
  return forgotten.rows[0]?.at ?? null;
}

async function countCall(client: pg.ClientBase, callerId: string, endedAt: Date): Promise<void> {
  await client.query(
    `UPDATE callers SET call_count = call_count + 1,
       last_call_at = CASE WHEN last_call_at IS NULL OR last_call_at < $2 THEN $2 ELSE last_call_at END
     WHERE id = $1`,
    [callerId, endedAt],
  );
}

export class PostgresCallerMemory implements CallerMemory {
  /** Set by the memory runtime when call recording is on (voice-gateway/recording/). */
  recordings: Recordings | undefined;

  /** A recording tap for the call, when recording is on. Never throws into the call path. */
  openRecording(call: { callSid: string; streamSid: string; from: string }): RecordingTap | undefined {
    if (!this.recordings || !call.from) return undefined;
    try {
      return this.recordings.open(call);
    } catch {
      return undefined;
    }
  }

  readonly pool: pg.Pool;
  readonly keyring: Keyring;
  readonly encryptText: boolean;
  readonly recordTranscripts: boolean;
  readonly extractMemories: boolean;
  readonly #recent: number;
  readonly #queue: WriteQueue<CallRecord>;
  readonly #log: MemoryLogger;
  readonly #handoffTtlMs: number;
  readonly #metrics: MemoryMetrics;

  constructor(options: PostgresMemoryOptions) {
    this.pool = options.pool;
    this.keyring = options.keyring;
    this.encryptText = options.encryptText ?? true;
    this.recordTranscripts = options.recordTranscripts ?? true;
    this.extractMemories = options.extractMemories ?? true;
    this.#recent = options.recentMemories ?? 10;
    this.#log = options.logger ?? { warn: () => {} };
    this.#handoffTtlMs = options.handoffTtlMs ?? 600_000;
    this.#metrics = options.metrics ?? options.queue?.metrics ?? MemoryMetrics.on();
    this.#queue = new WriteQueue((record) => this.#writeQueued(record), {
      ...options.queue,
      metrics: this.#metrics,
      onError: (error, attempt) => {
        this.#log.warn(
          { err: String((error as Error)?.message ?? error), attempt },
          'caller-memory write failed',
        );
        options.queue?.onError?.(error, attempt);
      },
    });
  }

  get pendingWrites(): number {
    return this.#queue.pending;
  }

  // ---- lookup --------------------------------------------------------------------------------------

  async lookup(phone: string, budgetMs: number): Promise<CallerContext | null> {
    const started = performance.now();
    const query = this.lookupNow(phone).then(
      (context) => ({ context }),
      (error: unknown) => ({ error }),
    );
    const result = await within(query, budgetMs, () => 'timeout' as const);
    this.#metrics.lookupSeconds.observe((performance.now() - started) / 1000);
    if (result === 'timeout') {
      this.#metrics.lookupMisses.inc({ reason: 'timeout' });
      return null;
    }
    if ('error' in result) {
      this.#metrics.lookupMisses.inc({ reason: 'error' });
      this.#log.warn(
        { err: String((result.error as Error)?.message ?? result.error), caller: safeMask(phone) },
        'caller lookup failed',
      );
      return null;
    }
    return result.context;
  }

  /** The lookup itself, without a budget: one round trip. Throws on database errors. */
  async lookupNow(phone: string): Promise<CallerContext> {
    const hashes = phoneHashes(this.keyring, phone);
    const { rows } = await this.pool.query<{
      id: string;
      call_count: number;
      profile: Record<string, string>;
      profile_enc: Buffer | null;
      profile_key: string;
      last_call_at: Date | null;
      memories: {
        kind: MemoryKind;
        text: string | null;
        text_enc: string | null;
        key_id: string | null;
        created_at: string;
      }[];
      last_summary: { text: string | null; text_enc: string | null; key_id: string | null } | null;
    }>(
      `SELECT c.id, c.call_count, c.profile, c.profile_enc, c.key_id AS profile_key, c.last_call_at,
         (SELECT coalesce(json_agg(m ORDER BY m.created_at DESC), '[]'::json) FROM (
            SELECT kind, text, encode(text_enc, 'hex') AS text_enc, key_id, created_at FROM memories
             WHERE caller_id = c.id ORDER BY created_at DESC LIMIT $2) m) AS memories,
         (SELECT row_to_json(s) FROM (
            SELECT text, encode(text_enc, 'hex') AS text_enc, key_id FROM memories
             WHERE caller_id = c.id AND kind = 'summary' ORDER BY created_at DESC LIMIT 1) s) AS last_summary
       FROM callers c WHERE c.phone_hash = ANY($1::bytea[]) LIMIT 1`,
      [hashes, this.#recent],
    );
    const row = rows[0];
    if (!row) return { callerId: '', returning: false, callCount: 0, profile: {}, memories: [] };
    const aad = `memory:${row.id}`;
    const memories: MemoryItem[] = row.memories.map((m) => ({
      kind: m.kind,
      text: this.#readText(
        { text: m.text, text_enc: m.text_enc ? Buffer.from(m.text_enc, 'hex') : null, key_id: m.key_id },
        aad,
      ),
      createdAt: new Date(m.created_at).toISOString(),
    }));
    const context: CallerContext = {
      callerId: row.id,
      returning: row.call_count > 0,
      callCount: row.call_count,
      profile: this.#readProfile(row.id, row.profile, row.profile_enc, row.profile_key),
      memories,
    };
    if (row.last_summary) {
      const s = row.last_summary;
      context.lastCallSummary = this.#readText(
        { text: s.text, text_enc: s.text_enc ? Buffer.from(s.text_enc, 'hex') : null, key_id: s.key_id },
        aad,
      );
    }
    if (row.last_call_at) context.lastCallAt = row.last_call_at.toISOString();
    return context;
  }

  // ---- search --------------------------------------------------------------------------------------

  async search(callerId: string, query: string, limit = 5): Promise<MemoryItem[]> {
    if (!isUuid(callerId) || !query.trim()) return [];
    const bounded = Math.max(1, Math.min(50, Math.floor(limit)));
    let tsquery: string;
    let params: unknown[];
    if (this.encryptText) {
      const tokens = new Set(this.keyring.keys.flatMap((k) => searchTokens(k, query)));
      if (tokens.size === 0) return [];
      // Cast, not to_tsquery(): the parser would split a token like `58040e7640c3836b` as a number.
      tsquery = '$2::tsquery';
      params = [callerId, [...tokens].map((t) => `'${t}'`).join(' | '), bounded];
    } else {
      tsquery = `websearch_to_tsquery('english', $2)`;
      params = [callerId, query, bounded];
    }
    const { rows } = await this.pool.query<{
      source: 'memory' | 'turn';
      kind: string;
      text: string | null;
      text_enc: Buffer | null;
      key_id: string | null;
      created_at: Date;
    }>(
      `WITH q AS (SELECT ${tsquery} AS q)
       SELECT * FROM (
         SELECT 'memory' AS source, m.kind, m.text, m.text_enc, m.key_id, m.created_at, ts_rank(m.tsv, q.q) AS rank
           FROM memories m, q WHERE m.caller_id = $1 AND m.tsv @@ q.q
         UNION ALL
         SELECT 'turn', t.role, t.text, t.text_enc, t.key_id, t.created_at, ts_rank(t.tsv, q.q)
           FROM transcript_turns t, q WHERE t.caller_id = $1 AND t.tsv @@ q.q
       ) hits ORDER BY rank DESC, created_at DESC LIMIT $3`,
      params,
    );
    return rows.map((r) => {
      if (r.source === 'memory') {
        return {
          kind: r.kind as MemoryKind,
          text: this.#readText(r, `memory:${callerId}`),
          createdAt: r.created_at.toISOString(),
        };
      }
      const said = this.#readText(r, `turn:${callerId}`);
      return {
        kind: 'fact' as const,
        text: `${r.kind === 'caller' ? 'Caller' : 'Agent'} said: ${said}`,
        createdAt: r.created_at.toISOString(),
      };
    });
  }

  // ---- writes --------------------------------------------------------------------------------------

  record(call: CallRecord): void {
    try {
      checkCallRecord(call);
    } catch (error) {
      this.#metrics.writesDropped.inc({ reason: 'invalid' });
      this.#log.warn({ err: (error as Error).message, callSid: call?.callSid }, 'call record rejected');
      return;
    }
    const copy = structuredClone(call);
    if (!this.recordTranscripts) copy.transcript = [];
    this.#queue.push(copy);
  }

  flush(deadlineMs: number): Promise<void> {
    return this.#queue.flush(deadlineMs);
  }

  async close(): Promise<void> {
    this.#queue.close();
  }

  async #writeQueued(record: CallRecord): Promise<void> {
    const outcome = await this.writeCall(record);
    if (outcome === 'forgotten') this.#metrics.writesDropped.inc({ reason: 'forgotten' });
  }

  /**
   * Writes one call record in one transaction; idempotent per callSid. A record of a call that started
   * before its caller was forgotten is dropped, so a forget during a live call leaves nothing behind.
   * The steps, in order: lock the caller, check the tombstone, find or create (or re-key) the caller,
   * insert the call (a duplicate callSid ends here), count it, then its transcript, its memories and
   * the profile facts they carry.
   */
  async writeCall(record: CallRecord): Promise<WriteOutcome> {
    let phone: string;
    try {
      phone = normalizePhone(record.from);
    } catch (error) {
      throw new PermanentWriteError((error as Error).message);
    }
    const hashes = phoneHashes(this.keyring, phone);
    const activeHash = hashes[0] as Buffer;
    const startedAt = new Date(record.startedAt);
    const endedAt = new Date(record.endedAt);

    return withTransaction(this.pool, async (client) => {
      await lockCaller(client, activeHash);
      const forgottenAt = await forgottenSince(client, tombstoneHashes(this.keyring, phone));
      if (forgottenAt && forgottenAt.getTime() >= startedAt.getTime()) return rollback('forgotten' as const);
      const caller = await this.#upsertCaller(client, phone, hashes);
      const callId = await this.#insertCall(client, caller.id, record, startedAt, endedAt);
      if (!callId) return rollback('duplicate' as const);
      await countCall(client, caller.id, endedAt);
      const call: CallRows = { client, callId, callerId: caller.id };
      await this.#insertTranscript(call, record.transcript, startedAt);
      const memories = this.#memoriesOf(record);
      await this.#insertMemories(call, memories, endedAt);
      await this.#applyProfileFacts(client, caller, memories);
      return 'written' as const;
    });
  }

  /** The caller row for the number: found, created, or moved to the active key (re-key on write). */
  async #upsertCaller(client: pg.PoolClient, phone: string, hashes: Buffer[]): Promise<CallerRow> {
    const key = this.keyring.active;
    const activeHash = hashes[0] as Buffer;
    const existing = await client.query<CallerRow>(
      'SELECT id, key_id, phone_hash, profile, profile_enc FROM callers WHERE phone_hash = ANY($1::bytea[]) FOR UPDATE',
      [hashes],
    );
    const found = existing.rows[0];
    if (!found) {
      const id = randomUUID();
      await client.query(
        `INSERT INTO callers (id, phone_hash, phone_enc, key_id, profile) VALUES ($1, $2, $3, $4, '{}'::jsonb)`,
        [id, activeHash, encrypt(key, phone, 'phone'), key.id],
      );
      return { id, key_id: key.id, phone_hash: activeHash, profile: {}, profile_enc: null };
    }
    if (found.key_id === key.id && found.phone_hash.equals(activeHash)) return found;
    // Re-key on write: the caller moves to the active key, so old keys can be retired.
    const profile = this.#readProfile(found.id, found.profile, found.profile_enc, found.key_id);
    const stored = this.#profileColumns(found.id, profile);
    await client.query(
      'UPDATE callers SET phone_hash = $2, phone_enc = $3, key_id = $4, profile = $5, profile_enc = $6 WHERE id = $1',
      [found.id, activeHash, encrypt(key, phone, 'phone'), key.id, stored.profile, stored.profile_enc],
    );
    return { ...found, key_id: key.id, profile, profile_enc: stored.profile_enc };
  }

  /** Inserts the call; undefined when its callSid is already stored (a retried write). */
  async #insertCall(
    client: pg.PoolClient,
    callerId: string,
    record: CallRecord,
    startedAt: Date,
    endedAt: Date,
  ): Promise<string | undefined> {
    const key = this.keyring.active;
    const inserted = await client.query<{ id: string }>(
      `INSERT INTO calls (caller_id, call_sid, to_enc, key_id, started_at, ended_at, outcome)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (call_sid) DO NOTHING RETURNING id`,
      [
        callerId,
        record.callSid,
        record.to ? encrypt(key, record.to, `to:${callerId}`) : null,
        key.id,
        startedAt,
        endedAt,
        record.outcome,
      ],
    );
    return inserted.rows[0]?.id;
  }

  async #insertTranscript(
    call: CallRows,
    transcript: CallRecord['transcript'],
    startedAt: Date,
  ): Promise<void> {
    if (transcript.length === 0) return;
    const cols = this.#textColumns(
      transcript.map((t) => t.text),
      `turn:${call.callerId}`,
    );
    await call.client.query(
      `INSERT INTO transcript_turns (call_id, seq, caller_id, role, at_ms, text, text_enc, key_id, tsv, created_at)
       SELECT $1, t.seq, $2, t.role, t.at_ms, t.text, t.text_enc, t.key_id,
              CASE WHEN $3::boolean THEN t.tok::tsvector ELSE to_tsvector('english', t.text) END,
              $4::timestamptz + make_interval(secs => t.at_ms / 1000.0)
         FROM unnest($5::int[], $6::text[], $7::int[], $8::text[], $9::bytea[], $10::text[], $11::text[])
           AS t(seq, role, at_ms, text, text_enc, key_id, tok)`,
      [
        call.callId,
        call.callerId,
        this.encryptText,
        startedAt,
        transcript.map((_, i) => i),
        transcript.map((t) => t.role),
        transcript.map((t) => Math.max(0, Math.round(t.atMs))),
        cols.text,
        cols.text_enc,
        cols.key_id,
        cols.tok,
      ],
    );
  }

  /** The call's memories: its facts and preferences, then its summary (none when extractMemories is off). */
  #memoriesOf(record: CallRecord): NewMemory[] {
    // extractMemories off: the call leaves no memory (no summary, no facts), only the call and its transcript.
    if (!this.extractMemories) return [];
    const memories: NewMemory[] = [...(record.memories ?? [])];
    const summary = record.summary?.trim() || deriveSummary(record);
    if (summary) memories.push({ kind: 'summary', text: summary });
    return memories;
  }

  async #insertMemories(call: CallRows, memories: NewMemory[], endedAt: Date): Promise<void> {
    if (memories.length === 0) return;
    const cols = this.#textColumns(
      memories.map((m) => m.text),
      `memory:${call.callerId}`,
    );
    await call.client.query(
      `INSERT INTO memories (caller_id, call_id, kind, text, text_enc, key_id, tsv, created_at)
       SELECT $1, $2, m.kind, m.text, m.text_enc, m.key_id,
              CASE WHEN $3::boolean THEN m.tok::tsvector ELSE to_tsvector('english', m.text) END,
              $4::timestamptz + make_interval(secs => m.ord / 1000.0)
         FROM unnest($5::text[], $6::text[], $7::bytea[], $8::text[], $9::text[], $10::int[])
           AS m(kind, text, text_enc, key_id, tok, ord)`,
      [
        call.callerId,
        call.callId,
        this.encryptText,
        endedAt,
        memories.map((m) => m.kind),
        cols.text,
        cols.text_enc,
        cols.key_id,
        cols.tok,
        // Summaries sort last (newest), so the last call's summary is the newest memory.
        memories.map((m, i) => (m.kind === 'summary' ? memories.length : i)),
      ],
    );
  }

  /** Facts shaped `key: value` (e.g. `name: Ada`) update the caller's profile. */
  async #applyProfileFacts(client: pg.PoolClient, caller: CallerRow, memories: NewMemory[]): Promise<void> {
    const facts = memories.filter((m) => m.kind === 'fact').map((m) => PROFILE_FACT.exec(m.text));
    if (!facts.some(Boolean)) return;
    const profile = this.#readProfile(caller.id, caller.profile, caller.profile_enc, caller.key_id);
    for (const match of facts) {
      if (match?.[1] && match[2])
        profile[match[1].trim().toLowerCase().replace(/\s+/g, '_')] = match[2].trim();
    }
    const stored = this.#profileColumns(caller.id, profile);
    await client.query('UPDATE callers SET profile = $2, profile_enc = $3 WHERE id = $1', [
      caller.id,
      stored.profile,
      stored.profile_enc,
    ]);
  }

  // ---- live-call hand-off -------------------------------------------------------------------------

  async saveHandoff(record: HandoffRecord): Promise<void> {
    if (!record?.callSid) throw new Error('callSid: required');
    const key = this.keyring.active;
    const payload = encrypt(key, JSON.stringify(record), `handoff:${record.callSid}`);
    await this.pool.query(
      `WITH expired AS (DELETE FROM call_handoffs WHERE expires_at < now())
       INSERT INTO call_handoffs (call_sid, payload_enc, key_id, expires_at)
       VALUES ($1, $2, $3, now() + make_interval(secs => $4::double precision / 1000))
       ON CONFLICT (call_sid) DO UPDATE
         SET payload_enc = EXCLUDED.payload_enc, key_id = EXCLUDED.key_id,
             created_at = now(), expires_at = EXCLUDED.expires_at`,
      [record.callSid, payload, key.id, this.#handoffTtlMs],
    );
  }

  async takeHandoff(callSid: string): Promise<HandoffRecord | null> {
    const { rows } = await this.pool.query<{ payload_enc: Buffer; key_id: string; live: boolean }>(
      'DELETE FROM call_handoffs WHERE call_sid = $1 RETURNING payload_enc, key_id, expires_at >= now() AS live',
      [callSid],
    );
    const row = rows[0];
    if (!row?.live) return null;
    return JSON.parse(
      decrypt(this.keyring, row.key_id, row.payload_enc, `handoff:${callSid}`),
    ) as HandoffRecord;
  }

  // ---- text protection -----------------------------------------------------------------------------

  /** Columns of a batch insert of texts: stored text (plain or sealed), and search tokens when sealed. */
  #textColumns(
    texts: string[],
    aad: string,
  ): {
    text: (string | null)[];
    text_enc: (Buffer | null)[];
    key_id: (string | null)[];
    tok: string[];
  } {
    const key = this.keyring.active;
    const stored = texts.map((t) => this.#storeText(t, aad));
    return {
      text: stored.map((s) => s.text),
      text_enc: stored.map((s) => s.text_enc),
      key_id: stored.map((s) => s.key_id),
      tok: texts.map((t) => (this.encryptText ? searchTokens(key, t).join(' ') : '')),
    };
  }

  #storeText(text: string, aad: string): StoredText {
    if (!this.encryptText) return { text, text_enc: null, key_id: null };
    const key = this.keyring.active;
    return { text: null, text_enc: encrypt(key, text, aad), key_id: key.id };
  }

  #readText(stored: StoredText, aad: string): string {
    return readStoredText(this.keyring, stored, aad);
  }

  #profileColumns(
    callerId: string,
    profile: Record<string, string>,
  ): { profile: string; profile_enc: Buffer | null } {
    if (!this.encryptText) return { profile: JSON.stringify(profile), profile_enc: null };
    return {
      profile: '{}',
      profile_enc: encrypt(this.keyring.active, JSON.stringify(profile), `profile:${callerId}`),
    };
  }

  #readProfile(
    callerId: string,
    plain: Record<string, string>,
    enc: Buffer | null,
    keyId: string,
  ): Record<string, string> {
    return readProfile(this.keyring, callerId, plain, enc, keyId);
  }
}

function isUuid(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
}

function safeMask(phone: string): string {
  try {
    return maskPhone(phone);
  } catch {
    return '+******';
  }
}

/** When the backend gave no summary: what the caller said, shortened. */
export function deriveSummary(record: CallRecord): string | undefined {
  const said = record.transcript
    .filter((t) => t.role === 'caller')
    .map((t) => t.text.trim())
    .filter(Boolean)
    .join(' ');
  if (!said) return undefined;
  const clipped = said.length > SUMMARY_CHARS ? `${said.slice(0, SUMMARY_CHARS - 1)}…` : said;
  return `Caller said: ${clipped}`;
}
