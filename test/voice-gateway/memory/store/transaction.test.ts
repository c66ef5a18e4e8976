import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { rollback, withTransaction } from '../../../../voice-gateway/memory/store/transaction.ts';
import { startPostgres, type TestPostgres } from '../../../support/postgres.ts';

describe('withTransaction (real PostgreSQL)', () => {
  let server: TestPostgres;
  let pool: pg.Pool;
  const rows = async () =>
    (await pool.query<{ v: string }>('SELECT v FROM tx_probe ORDER BY v')).rows.map((r) => r.v);

  before(async () => {
    server = await startPostgres();
    pool = new pg.Pool({ connectionString: server.url, max: 2 });
    pool.on('error', () => {}); // idle clients see the server stop at the end
    await pool.query('CREATE TABLE tx_probe (v text PRIMARY KEY)');
  });
  after(async () => {
    await pool.end();
    await server.destroy();
  });

  test('commits what the work wrote and hands back its value', async () => {
    const out = await withTransaction(pool, async (c) => {
      await c.query("INSERT INTO tx_probe VALUES ('committed')");
      return 42;
    });
    assert.equal(out, 42);
    assert.deepEqual(await rows(), ['committed']);
  });

  test('rolls back when the work throws, and the error passes through', async () => {
    await assert.rejects(
      withTransaction(pool, async (c) => {
        await c.query("INSERT INTO tx_probe VALUES ('thrown')");
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.deepEqual(await rows(), ['committed']);
  });

  test('rollback(value) ends with ROLLBACK and still returns the value', async () => {
    const out = await withTransaction(pool, async (c) => {
      await c.query("INSERT INTO tx_probe VALUES ('asked')");
      return rollback('duplicate');
    });
    assert.equal(out, 'duplicate');
    assert.deepEqual(await rows(), ['committed']);
  });

  test('a failed statement rolls back and the client goes back to the pool usable', async () => {
    await assert.rejects(
      withTransaction(pool, async (c) => {
        await c.query("INSERT INTO tx_probe VALUES ('committed')"); // duplicate key
      }),
      /duplicate key/,
    );
    // Every pooled client is back and not left inside an aborted transaction: reads on all of them work.
    assert.equal(pool.waitingCount, 0);
    const reads = await Promise.all([rows(), rows(), rows()]);
    for (const read of reads) assert.deepEqual(read, ['committed']);
  });

  test('begin and session statements are honoured (read-only transaction refuses a write)', async () => {
    await assert.rejects(
      withTransaction(pool, async (c) => c.query("INSERT INTO tx_probe VALUES ('ro')"), {
        begin: 'BEGIN READ ONLY',
        session: ["SET application_name = 'tx-test'"],
      }),
      /read-only transaction/,
    );
    assert.deepEqual(await rows(), ['committed']);
  });
});
