// Shared setup for the caller-memory tests: a throwaway PostgreSQL, migrated, and a store on it.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type pg from 'pg';
import { type Keyring, parseKeyring } from '../../../voice-gateway/memory/store/crypto.ts';
import { migrate } from '../../../voice-gateway/memory/store/migrate.ts';
import { createPool } from '../../../voice-gateway/memory/store/pool.ts';
import {
  PostgresCallerMemory,
  type PostgresMemoryOptions,
} from '../../../voice-gateway/memory/store/postgres-store.ts';
import type { CallRecord } from '../../../voice-gateway/memory/types.ts';
import { PG_BIN, startPostgres, type TestPostgres } from '../../support/postgres.ts';

export const KEY_SPEC = 'k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';

export interface Harness {
  pg: TestPostgres;
  pool: pg.Pool;
  keyring: Keyring;
  store(options?: Partial<PostgresMemoryOptions>): PostgresCallerMemory;
  dump(): string;
  close(): Promise<void>;
}

export async function startHarness(keySpec = KEY_SPEC): Promise<Harness> {
  const server = await startPostgres();
  const pool = createPool(server.url, { max: 5, connectTimeoutMs: 1000 });
  await migrate(pool);
  const keyring = parseKeyring(keySpec);
  const stores: PostgresCallerMemory[] = [];
  return {
    pg: server,
    pool,
    keyring,
    store(options = {}) {
      const store = new PostgresCallerMemory({
        pool,
        keyring,
        queue: { baseDelayMs: 50, maxDelayMs: 500 },
        ...options,
      });
      stores.push(store);
      return store;
    },
    dump() {
      return execFileSync(join(PG_BIN, 'pg_dump'), ['--data-only', '--inserts', '-d', server.url], {
        encoding: 'utf8',
        maxBuffer: 256 * 1024 * 1024,
      });
    },
    async close() {
      for (const s of stores) await s.close();
      await pool.end().catch(() => {});
      await server.destroy();
    },
  };
}

/** A harness for the tests of this file (or suite): started before them, closed after them. */
export function harnessForTests(): () => Harness {
  return startedForTests(startHarness, (h) => h.close(), 'the harness');
}

/** A throwaway PostgreSQL, not migrated, for the tests of this file (or suite). */
export function postgresForTests(): () => TestPostgres {
  return startedForTests(startPostgres, (server) => server.destroy(), 'PostgreSQL');
}

function startedForTests<T>(start: () => Promise<T>, stop: (t: T) => Promise<void>, what: string): () => T {
  let started: T | undefined;
  before(async () => {
    started = await start();
  });
  after(async () => {
    if (started !== undefined) await stop(started);
  });
  return () => {
    if (started === undefined) throw new Error(`${what} is not started (read it inside a test)`);
    return started;
  };
}

let seq = 0;
export function callRecord(from: string, overrides: Partial<CallRecord> = {}): CallRecord {
  seq += 1;
  const started = new Date(Date.now() - 120_000);
  return {
    callSid: `CA${process.pid}x${seq}x${Math.random().toString(16).slice(2, 10)}`,
    from,
    to: '+15550000000',
    startedAt: started.toISOString(),
    endedAt: new Date(started.getTime() + 60_000).toISOString(),
    outcome: 'completed',
    transcript: [
      { role: 'agent', text: 'Hello, how can I help?', atMs: 500 },
      { role: 'caller', text: 'I would like to order a large margherita pizza', atMs: 2500 },
      { role: 'agent', text: 'Sure, delivered to the usual address?', atMs: 5000 },
    ],
    ...overrides,
  };
}

/** Every textual form of a number that might leak: +E164, digits, national, dashed, spaced. */
export function phoneForms(phone: string): string[] {
  const digits = phone.replace(/\D/g, '');
  const national = digits.slice(1);
  return [
    phone,
    digits,
    national,
    `${national.slice(0, 3)}-${national.slice(3, 6)}-${national.slice(6)}`,
    `(${national.slice(0, 3)}) ${national.slice(3, 6)}-${national.slice(6)}`,
    `${national.slice(0, 3)} ${national.slice(3, 6)} ${national.slice(6)}`,
    Buffer.from(phone).toString('hex'),
    Buffer.from(phone).toString('base64'),
  ];
}
