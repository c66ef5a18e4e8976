import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { migrations } from '../../../../voice-gateway/memory/store/migrations.ts';
import { runCallfleet as run } from '../callfleet-cli.ts';
import { postgresForTests } from '../harness.ts';

const server = postgresForTests();

describe('callfleet migrate', () => {
  test('5 processes at once: one applies, all succeed, schema applied once', async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, () => run(['migrate', '--database-url', server().url])),
    );
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const outputs = results.map((r) => JSON.parse(r.stdout) as { applied: number[]; current: number });
    const latest = Math.max(...migrations.map((m) => m.version));
    assert.equal(outputs.filter((o) => o.applied.length > 0).length, 1);
    assert.ok(outputs.every((o) => o.current === latest));
    const client = new pg.Client({ connectionString: server().url });
    await client.connect();
    try {
      const rows = await client.query('SELECT version FROM callfleet_schema_migrations ORDER BY version');
      assert.deepEqual(
        rows.rows.map((r) => r.version),
        migrations.map((m) => m.version),
      );
    } finally {
      await client.end();
    }
    // And again later: nothing to do.
    const again = await run(['migrate'], { CALLFLEET_MEMORY_URL: server().url });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout).applied, []);
  });

  test('clear errors for missing connection details', async () => {
    const r = await run(['migrate'], { CALLFLEET_MEMORY_URL: '' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--database-url, --store NAME or CALLFLEET_MEMORY_URL: required/);
  });
});
