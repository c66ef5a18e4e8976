// Benchmark: caller lookup latency at call start with 100k callers and 1M memories (target p99 <= 20 ms).
// A throwaway PostgreSQL 15 (fsync off; lookups are reads, so that does not flatter them), the real
// schema, and the real lookup path (keyed hash -> one round trip -> AES-GCM decrypt of 10 memories).
// Bulk rows are generated in SQL; the callers that are looked up are written with real keys and
// ciphertext. Prints JSON.
//   node test/bench/memory-lookup.ts [--callers 100000] [--memories 1000000] [--lookups 3000]
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { encrypt, parseKeyring, phoneHashes } from '../../voice-gateway/memory/store/crypto.ts';
import { migrate } from '../../voice-gateway/memory/store/migrate.ts';
import { createPool } from '../../voice-gateway/memory/store/pool.ts';
import { PostgresCallerMemory } from '../../voice-gateway/memory/store/postgres-store.ts';
import { startPostgres } from '../support/postgres.ts';

const { values } = parseArgs({
  options: {
    callers: { type: 'string', default: '100000' },
    memories: { type: 'string', default: '1000000' },
    lookups: { type: 'string', default: '3000' },
    sampled: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '8' },
  },
});
const CALLERS = Number(values.callers);
const MEMORIES = Number(values.memories);
const LOOKUPS = Number(values.lookups);
const SAMPLED = Math.min(Number(values.sampled), CALLERS);
const CONCURRENCY = Number(values.concurrency);
const PER_CALLER = Math.max(1, Math.round(MEMORIES / CALLERS));

const keyring = parseKeyring('bench:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=');
const server = await startPostgres();
const pool = createPool(server.url, { max: CONCURRENCY + 2, statementTimeoutMs: 600_000 });

function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round((sorted[index] ?? 0) * 1000) / 1000;
}

function stats(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50_ms: percentile(sorted, 50),
    p95_ms: percentile(sorted, 95),
    p99_ms: percentile(sorted, 99),
    max_ms: percentile(sorted, 100),
  };
}

try {
  await migrate(pool);
  const loadStarted = performance.now();

  // The sampled callers: real keyed hashes, real ciphertext, PER_CALLER memories each (one summary).
  const phones: string[] = [];
  const ids: string[] = [];
  for (let i = 0; i < SAMPLED; i++) {
    phones.push(`+1415${String(5_000_000 + i).padStart(7, '0')}`);
    ids.push(randomUUID());
  }
  const key = keyring.active;
  await pool.query(
    `INSERT INTO callers (id, phone_hash, phone_enc, key_id, call_count, last_call_at)
     SELECT id, h, e, $4, $5, now() - interval '1 day' FROM unnest($1::uuid[], $2::bytea[], $3::bytea[]) AS t(id, h, e)`,
    [
      ids,
      phones.map((p) => phoneHashes(keyring, p)[0]),
      phones.map((p) => encrypt(key, p, 'phone')),
      key.id,
      PER_CALLER,
    ],
  );
  for (let start = 0; start < SAMPLED; start += 500) {
    const memCaller: string[] = [];
    const memKind: string[] = [];
    const memEnc: Buffer[] = [];
    const memAt: Date[] = [];
    for (let i = start; i < Math.min(SAMPLED, start + 500); i++) {
      const id = ids[i] as string;
      for (let m = 0; m < PER_CALLER; m++) {
        const kind = m % 3 === 0 ? 'summary' : m % 3 === 1 ? 'fact' : 'preference';
        memCaller.push(id);
        memKind.push(kind);
        memEnc.push(
          encrypt(
            key,
            `${kind} ${m}: the caller asked about order ${i}-${m} and prefers evening delivery`,
            `memory:${id}`,
          ),
        );
        memAt.push(new Date(Date.now() - (m + 1) * 86_400_000 - Math.random() * 3_600_000));
      }
    }
    await pool.query(
      `INSERT INTO memories (caller_id, kind, text_enc, key_id, created_at)
       SELECT c, k, e, $5, a FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::timestamptz[]) AS t(c, k, e, a)`,
      [memCaller, memKind, memEnc, memAt, key.id],
    );
  }

  // The rest, generated in SQL: callers with random hashes, memories interleaved across callers
  // (memories arrive over time, so a caller's rows are spread over the table, not clustered).
  const rest = CALLERS - SAMPLED;
  await pool.query(
    `CREATE TEMP TABLE bench_ids AS SELECT g AS i, gen_random_uuid() AS id FROM generate_series(1, $1::int) g`,
    [rest],
  );
  await pool.query(
    `INSERT INTO callers (id, phone_hash, phone_enc, key_id, call_count, last_call_at)
     SELECT id, sha256(('bench' || i)::bytea), sha256(('enc' || i)::bytea) || sha256(('enc2' || i)::bytea), $1, $2,
            now() - (i % 365) * interval '1 day'
       FROM bench_ids`,
    [key.id, PER_CALLER],
  );
  const restMemories = Math.max(0, MEMORIES - SAMPLED * PER_CALLER);
  await pool.query(
    `INSERT INTO memories (caller_id, kind, text_enc, key_id, created_at)
     SELECT b.id, (ARRAY['summary','fact','preference'])[1 + g % 3],
            sha256(('m' || g)::bytea) || sha256(('n' || g)::bytea) || sha256(('o' || g)::bytea), $2,
            now() - (g % 700) * interval '1 hour'
       FROM generate_series(0, $1::int - 1) g JOIN bench_ids b ON b.i = 1 + (g % $3::int)`,
    [restMemories, key.id, rest],
  );
  await pool.query('VACUUM ANALYZE callers');
  await pool.query('VACUUM ANALYZE memories');
  const counts = (
    await pool.query<{ callers: number; memories: number }>(
      'SELECT (SELECT count(*) FROM callers)::int AS callers, (SELECT count(*) FROM memories)::int AS memories',
    )
  ).rows[0];
  const loadSeconds = Math.round((performance.now() - loadStarted) / 100) / 10;

  const store = new PostgresCallerMemory({ pool, keyring, recentMemories: 10 });
  const pick = () => phones[Math.floor(Math.random() * phones.length)] as string;
  // Warm-up: connections, plans, cache.
  for (let i = 0; i < 200; i++) await store.lookupNow(pick());

  const sequential: number[] = [];
  let misses = 0;
  for (let i = 0; i < LOOKUPS; i++) {
    const started = performance.now();
    const context = await store.lookup(pick(), 150);
    sequential.push(performance.now() - started);
    if (!context?.returning || context.memories.length !== Math.min(10, PER_CALLER)) misses += 1;
  }

  const concurrent: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < LOOKUPS) {
        next += 1;
        const started = performance.now();
        await store.lookup(pick(), 150);
        concurrent.push(performance.now() - started);
      }
    }),
  );

  const sequentialStats = stats(sequential);
  process.stdout.write(
    `${JSON.stringify(
      {
        benchmark: 'memory-lookup',
        postgres: '15 (Debian), throwaway cluster on 127.0.0.1, fsync=off, shared_buffers=128MB',
        dataset: {
          callers: counts?.callers,
          memories: counts?.memories,
          memories_per_lookup: Math.min(10, PER_CALLER),
        },
        load_seconds: loadSeconds,
        lookup_sequential: sequentialStats,
        [`lookup_concurrency_${CONCURRENCY}`]: stats(concurrent),
        misses_or_wrong: misses,
        target_p99_ms: 20,
        pass: sequentialStats.p99_ms <= 20 && misses === 0,
      },
      null,
      2,
    )}\n`,
  );
  await store.close();
} finally {
  await pool.end().catch(() => {});
  await server.destroy();
}
