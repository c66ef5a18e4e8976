// Benchmark: memory backup to object storage and restore into a new database, at 100k callers and
// 1M memories (plus 2 calls and 2 transcript turns per caller, and a forget tombstone per 100), and the
// cost of recording a call. A throwaway PostgreSQL 15 and a real S3 server (versitygw on a temp dir),
// the real code paths (COPY → sealed segments → multipart upload; download → open → COPY in one
// transaction). Rows are generated in SQL with ciphertext-sized values. Prints JSON.
//   node test/bench/backup.ts [--callers 100000] [--memories 1000000] [--calls 20] [--call-seconds 60]
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { backupToBucket, restoreFromBucket } from '../../voice-gateway/memory/backup/bucket-backups.ts';
import { parseKeyring } from '../../voice-gateway/memory/store/crypto.ts';
import { migrate } from '../../voice-gateway/memory/store/migrate.ts';
import { createPool } from '../../voice-gateway/memory/store/pool.ts';
import { RecordingIndex } from '../../voice-gateway/recording/index-store.ts';
import { Recordings } from '../../voice-gateway/recording/recorder.ts';
import { startPostgres } from '../support/postgres.ts';
import { startS3 } from '../support/s3.ts';

const { values } = parseArgs({
  options: {
    callers: { type: 'string', default: '100000' },
    memories: { type: 'string', default: '1000000' },
    calls: { type: 'string', default: '20' },
    'call-seconds': { type: 'string', default: '60' },
  },
});
const CALLERS = Number(values.callers);
const MEMORIES = Number(values.memories);
const CALLS = Number(values.calls);
const CALL_SECONDS = Number(values['call-seconds']);

const ring = parseKeyring('bench:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=');
const key = ring.active;
const [source, s3] = await Promise.all([startPostgres(), startS3()]);
await s3.createBucket('bench');
const bucket = s3.bucket('bench', 'bench/');
const pool = createPool(source.url, { max: 4, statementTimeoutMs: 3_600_000 });
const round = (n: number, d = 3) => Math.round(n * 10 ** d) / 10 ** d;
const out: Record<string, unknown> = {};

try {
  await migrate(pool);
  let t = performance.now();
  await pool.query(
    `CREATE TEMP TABLE bench_ids AS SELECT g AS i, gen_random_uuid() AS id FROM generate_series(1, $1::int) g`,
    [CALLERS],
  );
  await pool.query(
    `INSERT INTO callers (id, phone_hash, phone_enc, key_id, profile_enc, call_count, last_call_at)
     SELECT id, sha256(('bench' || i)::bytea), sha256(('enc' || i)::bytea) || sha256(('e2' || i)::bytea), $1,
            sha256(('p' || i)::bytea) || sha256(('q' || i)::bytea), 2, now() - (i % 365) * interval '1 day'
       FROM bench_ids`,
    [key.id],
  );
  await pool.query(
    `INSERT INTO calls (id, caller_id, call_sid, to_enc, key_id, started_at, ended_at, outcome)
     SELECT gen_random_uuid(), b.id, 'CA' || md5(g::text), sha256(('t' || g)::bytea) || sha256(('u' || g)::bytea), $2,
            now() - (g % 900) * interval '1 hour', now() - (g % 900) * interval '1 hour' + interval '3 minutes', 'completed'
       FROM generate_series(0, $1::int * 2 - 1) g JOIN bench_ids b ON b.i = 1 + (g % $1::int)`,
    [CALLERS, key.id],
  );
  await pool.query(
    `INSERT INTO transcript_turns (call_id, seq, caller_id, role, at_ms, text_enc, key_id, tsv, created_at)
     SELECT c.id, s, c.caller_id, CASE WHEN s = 0 THEN 'agent' ELSE 'caller' END, s * 2500,
            sha256((c.call_sid || s)::bytea) || sha256((c.call_sid || 'x' || s)::bytea) || sha256((c.call_sid || 'y' || s)::bytea),
            $1, to_tsvector('simple', substr(md5(c.call_sid || s), 1, 16) || ' ' || substr(md5(c.call_sid || s), 17, 16)), c.started_at
       FROM calls c, generate_series(0, 1) s`,
    [key.id],
  );
  await pool.query(
    `INSERT INTO memories (caller_id, kind, text_enc, key_id, tsv, created_at)
     SELECT b.id, (ARRAY['summary','fact','preference'])[1 + g % 3],
            sha256(('m' || g)::bytea) || sha256(('n' || g)::bytea) || sha256(('o' || g)::bytea), $2,
            to_tsvector('simple', substr(md5(g::text), 1, 16) || ' ' || substr(md5(g::text), 17, 16)),
            now() - (g % 700) * interval '1 hour'
       FROM generate_series(0, $1::int - 1) g JOIN bench_ids b ON b.i = 1 + (g % $3::int)`,
    [MEMORIES, key.id, CALLERS],
  );
  await pool.query(
    `INSERT INTO memory_audit (action, subject_hash, actor, counts)
     SELECT 'forget', sha256(('tomb' || g)::bytea), 'bench', '{}'::jsonb FROM generate_series(1, $1::int) g`,
    [Math.max(1, Math.floor(CALLERS / 100))],
  );
  const size = await pool.query<{ bytes: string }>(
    'SELECT pg_database_size(current_database())::text AS bytes',
  );
  out.dataset = {
    callers: CALLERS,
    calls: CALLERS * 2,
    transcriptTurns: CALLERS * 4,
    memories: MEMORIES,
    databaseBytes: Number(size.rows[0]?.bytes),
    generateSeconds: round((performance.now() - t) / 1000, 1),
  };

  t = performance.now();
  const backup = await backupToBucket(pool, bucket, ring, { keep: 3 });
  out.backup = {
    seconds: round(backup.seconds, 2),
    plaintextBytes: backup.plaintextBytes,
    storedBytes: backup.storedBytes,
    rows: backup.rows,
    rowsPerSecond: Math.round(Object.values(backup.rows).reduce((a, b) => a + b, 0) / backup.seconds),
  };
  await pool.end();
  await source.destroy();

  const target = await startPostgres();
  const tpool = createPool(target.url, { max: 4, statementTimeoutMs: 3_600_000 });
  try {
    const restored = await restoreFromBucket(tpool, bucket, ring, 'latest');
    const check = await tpool.query<{ callers: number; memories: number }>(
      'SELECT (SELECT count(*) FROM callers)::int AS callers, (SELECT count(*) FROM memories)::int AS memories',
    );
    out.restore = {
      seconds: round(restored.seconds, 2),
      rows: restored.rows,
      rowsPerSecond: Math.round(Object.values(restored.rows).reduce((a, b) => a + b, 0) / restored.seconds),
      verified: check.rows[0],
    };

    // Recording cost: CALLS calls of CALL_SECONDS each, fed as fast as the CPU allows (20 ms caller
    // frames, the agent speaking half of the time), through the real recorder, S3 and index.
    const recordings = new Recordings({
      bucket,
      index: new RecordingIndex(tpool, ring),
      keyring: ring,
      retentionDays: 30,
      agentQueueBytes: 30 * 8000,
      maxBufferBytes: 512 * 1024 * 1024,
      onError: (what, error) => errors.push(`${what}: ${error.message}`),
    });
    const errors: string[] = [];
    const frame = randomBytes(160);
    const agentChunk = randomBytes(1600).toString('base64');
    const frames = CALL_SECONDS * 50;
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    let peakBuffered = 0;
    const cpu0 = process.cpuUsage();
    const w0 = performance.now();
    const taps = Array.from({ length: CALLS }, (_, i) =>
      recordings.open({
        callSid: `CAbench${i}`,
        streamSid: `MZbench${i}`,
        from: `+1415555${String(1000 + i)}`,
      }),
    );
    let tapNs = 0;
    for (let f = 0; f < frames; f++) {
      for (const tap of taps) {
        const s = process.hrtime.bigint();
        tap.caller(frame, 160);
        if (f % 20 === 0 && f % 100 < 50) tap.agent(agentChunk);
        tapNs += Number(process.hrtime.bigint() - s);
      }
      if (f % 250 === 0) {
        peakBuffered = Math.max(peakBuffered, recordings.bufferedBytes());
        await new Promise((r) => setImmediate(r));
      }
    }
    for (const tap of taps) tap.close();
    await recordings.flush(Date.now() + 120_000);
    const cpu = process.cpuUsage(cpu0);
    const wall = (performance.now() - w0) / 1000;
    const stored = await tpool.query<{ n: number; bytes: string }>(
      `SELECT count(*)::int AS n, sum(bytes)::text AS bytes FROM call_recordings WHERE status = 'complete'`,
    );
    const minutes = (CALLS * CALL_SECONDS) / 60;
    out.recording = {
      calls: CALLS,
      callSeconds: CALL_SECONDS,
      completed: stored.rows[0]?.n,
      cpuMsPerCallMinute: round((cpu.user + cpu.system) / 1000 / minutes, 1),
      cpuShareOfOneCorePerLiveCall: round((cpu.user + cpu.system) / 1e6 / (CALLS * CALL_SECONDS), 5),
      tapMicrosecondsPerFrame: round(tapNs / 1000 / (frames * CALLS), 3),
      storedBytesPerCallMinute: Math.round(Number(stored.rows[0]?.bytes ?? 0) / minutes),
      peakBufferedBytesAllCalls: peakBuffered,
      peakBufferedBytesPerCall: Math.round(peakBuffered / CALLS),
      rssGrowthBytes: process.memoryUsage().rss - rss0,
      wallSeconds: round(wall, 2),
      droppedBytes: recordings.counters.droppedBytes,
      failed: recordings.counters.failed,
      errors: [...new Set(errors)].slice(0, 5),
    };
  } finally {
    await tpool.end();
    await target.destroy();
  }
} finally {
  bucket.destroy();
  await s3.stop();
}
process.stdout.write(`${JSON.stringify({ benchmark: 'backup-restore-recording', ...out }, null, 2)}\n`);
