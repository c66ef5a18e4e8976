// The retention sweeper: deletes transcript turns and memories older than the MemoryStore's retention,
// in small batches (short transactions, no long locks, bounded WAL per step), from one pod at a time
// (a session advisory lock taken with pg_try_advisory_lock: the other pods skip the round).
import type pg from 'pg';
import { MemoryMetrics } from '../metrics.ts';

export const RETENTION_LOCK_ID = 7_242_115_301_002n;

export interface RetentionPolicy {
  /** Days to keep transcript turns; 0 or undefined keeps them forever (MemoryStore spec.retention.transcriptsDays). */
  transcriptsDays?: number;
  /** Days to keep memories (facts, preferences, summaries); 0 or undefined keeps them forever (spec.retention.memoriesDays). */
  memoriesDays?: number;
  batchSize?: number;
  /** Where deletions are counted (default: prom-client's default registry). */
  metrics?: MemoryMetrics;
}

export interface SweepResult {
  /** False when another pod held the lock. */
  ran: boolean;
  transcriptTurns: number;
  memories: number;
}

const DAY_MS = 86_400_000;

export async function sweepRetention(
  pool: pg.Pool,
  policy: RetentionPolicy,
  now = new Date(),
): Promise<SweepResult> {
  const result: SweepResult = { ran: false, transcriptTurns: 0, memories: 0 };
  const batch = Math.max(1, policy.batchSize ?? 1000);
  const { retentionDeleted } = policy.metrics ?? MemoryMetrics.on();
  const client = await pool.connect();
  try {
    const locked = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [
      RETENTION_LOCK_ID.toString(),
    ]);
    if (!locked.rows[0]?.ok) return result;
    result.ran = true;
    try {
      if (policy.transcriptsDays && policy.transcriptsDays > 0) {
        const cutoff = new Date(now.getTime() - policy.transcriptsDays * DAY_MS);
        result.transcriptTurns = await deleteInBatches(
          client,
          `DELETE FROM transcript_turns WHERE (call_id, seq) IN (
             SELECT call_id, seq FROM transcript_turns WHERE created_at < $1 LIMIT $2)`,
          cutoff,
          batch,
        );
        retentionDeleted.inc({ table: 'transcript_turns' }, result.transcriptTurns);
      }
      if (policy.memoriesDays && policy.memoriesDays > 0) {
        const cutoff = new Date(now.getTime() - policy.memoriesDays * DAY_MS);
        result.memories = await deleteInBatches(
          client,
          'DELETE FROM memories WHERE id IN (SELECT id FROM memories WHERE created_at < $1 LIMIT $2)',
          cutoff,
          batch,
        );
        retentionDeleted.inc({ table: 'memories' }, result.memories);
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [RETENTION_LOCK_ID.toString()]).catch(() => {});
    }
    return result;
  } finally {
    client.release();
  }
}

async function deleteInBatches(
  client: pg.PoolClient,
  sql: string,
  cutoff: Date,
  batch: number,
): Promise<number> {
  let total = 0;
  for (;;) {
    const { rowCount } = await client.query(sql, [cutoff, batch]);
    total += rowCount ?? 0;
    if (!rowCount || rowCount < batch) return total;
  }
}

/**
 * Runs sweepRetention every `everyMs`; the first run comes within seconds of start (after a random delay of
 * up to 5 s so pods do not all start at once; the advisory lock lets one of them sweep).
 */
export function startRetentionSweeper(
  pool: pg.Pool,
  policy: RetentionPolicy,
  everyMs = 3_600_000,
  onError: (error: unknown) => void = () => {},
  onSwept: (result: SweepResult) => void = () => {},
): { stop(): void } {
  let stopped = false;
  let timer: NodeJS.Timeout;
  const tick = async (): Promise<void> => {
    try {
      onSwept(await sweepRetention(pool, policy));
    } catch (error) {
      onError(error);
    }
    if (!stopped) {
      timer = setTimeout(tick, everyMs);
      timer.unref();
    }
  };
  timer = setTimeout(tick, Math.random() * Math.min(everyMs, 5_000));
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
