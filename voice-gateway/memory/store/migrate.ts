// Applies the caller-memory migrations. Safe from many pods at once: every runner takes the same
// session advisory lock first, so one applies and the others wait, then find nothing left to do.
import type pg from 'pg';
import { migrations as allMigrations, type Migration } from './migrations.ts';
import { inTransaction } from './transaction.ts';

/** Arbitrary, stable: "callfleet-migrate" folded into a bigint. */
export const MIGRATION_LOCK_ID = 7_242_115_301_001n;

export interface MigrateResult {
  applied: number[];
  current: number;
}

export async function migrate(
  pool: pg.Pool,
  migrations: Migration[] = allMigrations,
): Promise<MigrateResult> {
  const client = await pool.connect();
  try {
    // No statement timeout while waiting for the lock or building indexes.
    await client.query('SET statement_timeout = 0');
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID.toString()]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS callfleet_schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const done = new Set(
        (await client.query<{ version: number }>('SELECT version FROM callfleet_schema_migrations')).rows.map(
          (r) => r.version,
        ),
      );
      const applied: number[] = [];
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        if (done.has(m.version)) continue;
        await inTransaction(client, async (tx) => {
          await tx.query(m.sql);
          await tx.query('INSERT INTO callfleet_schema_migrations (version, name) VALUES ($1, $2)', [
            m.version,
            m.name,
          ]);
        }).catch((error: Error) => {
          throw new Error(`migration ${m.version} (${m.name}) failed: ${error.message}`);
        });
        applied.push(m.version);
      }
      const current = Math.max(
        0,
        ...migrations.map((m) => m.version).filter((v) => done.has(v) || applied.includes(v)),
      );
      return { applied, current };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID.toString()]).catch(() => {});
    }
  } finally {
    client.release();
  }
}
