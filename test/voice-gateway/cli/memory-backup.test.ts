// Issue 19 acceptance (a) through the product's own commands and real gateway processes: calls are
// remembered (and one caller forgotten) on a real PostgreSQL, `callfleet memory backup` seals a dump
// into a real S3 server, the keyring is backed up with `memory keys export`, the database is destroyed,
// the keyring is recovered with `memory keys import` and `memory restore` fills a NEW database from the
// bucket. A gateway on the new database remembers the caller from before the backup on their next call
// and keeps the forgotten caller forgotten. Then key rotation: a new key first in the ring,
// `memory rekey` moves every row and every recording's data key to it, and the old key can go.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateKeySpec, parseKeyring } from '../../../voice-gateway/memory/store/crypto.ts';
import { createPool } from '../../../voice-gateway/memory/store/pool.ts';
import { PostgresCallerMemory } from '../../../voice-gateway/memory/store/postgres-store.ts';
import { readRecording } from '../../../voice-gateway/recording/export.ts';
import { splitStereoMulaw } from '../../../voice-gateway/recording/wav.ts';
import { PatternAgent, type PatternSession } from '../../fakes/pattern-agent.ts';
import { startPostgres, type TestPostgres } from '../../support/postgres.ts';
import { waitFor } from '../../support/processes.ts';
import { startS3, type TestS3 } from '../../support/s3.ts';
import { KEY_SPEC } from '../memory/harness.ts';
import { type GatewayProcess, spawnGateway } from '../recording/gateway-process.ts';

const root = new URL('../../..', import.meta.url).pathname;
const REMEMBERED = '+14155550401';
const FORGOTTEN = '+14155550402';
const PASSPHRASE = 'correct horse battery staple';

function cli(args: string[], env: Record<string, string>) {
  const r = spawnSync(process.execPath, [join(root, 'bin/callfleet.ts'), ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('backup, destroy, restore with the callfleet commands; key backup and rotation', () => {
  let s3: TestS3;
  let agent: PatternAgent;
  let agentUrl: string;
  const dir = mkdtempSync(join(tmpdir(), 'callfleet-backup-cli-'));
  before(async () => {
    s3 = await startS3();
    await s3.createBucket('team');
    agent = new PatternAgent(1600, 1600, 'Please remember I ordered the blue kayak');
    agentUrl = await agent.start();
  });
  after(async () => {
    await agent?.stop();
    await s3?.stop();
  });

  const gateway = (name: string, db: TestPostgres, key: string) =>
    spawnGateway(
      name,
      {
        agent: { provider: 'websocket', websocket: { url: agentUrl } },
        memory: { enabled: true },
        recording: { enabled: true, bucket: s3.config('team', 'prod/') },
      },
      { CALLFLEET_MEMORY_URL: db.url, CALLFLEET_ENCRYPTION_KEY: key, ...s3.env },
    );

  async function callAndGetContext(gw: GatewayProcess, from: string): Promise<PatternSession> {
    const n = agent.sessions.length;
    const call = await gw.call(from, { hangupAfterMs: 1500 });
    await waitFor('the agent session', async () => agent.sessions.length > n, 10_000);
    await call.done;
    return agent.sessions[n] as PatternSession;
  }

  test('the caller from before the backup is remembered on the next call; the forgotten caller is not', async () => {
    const env = (db: TestPostgres, key = KEY_SPEC) => ({
      CALLFLEET_MEMORY_URL: db.url,
      CALLFLEET_ENCRYPTION_KEY: key,
      CALLFLEET_OBJECT_STORAGE: JSON.stringify(s3.config('team', 'prod/')),
      CALLFLEET_KEY_PASSPHRASE: PASSPHRASE,
      ...s3.env,
    });
    const first = await startPostgres();
    const gw1 = await gateway('before-backup', first, KEY_SPEC);
    const pool1 = createPool(first.url, { max: 2 });
    try {
      await waitFor('migrated', async () => (await gw1.metric('callfleet_memory_up')) === 1);
      await callAndGetContext(gw1, REMEMBERED);
      await callAndGetContext(gw1, FORGOTTEN);
      await waitFor(
        'both calls and recordings written',
        async () => {
          const { rows } = await pool1.query(
            `SELECT (SELECT count(*) FROM calls)::int AS calls,
                    (SELECT count(*) FROM call_recordings WHERE status = 'complete')::int AS recs`,
          );
          return rows[0].calls === 2 && rows[0].recs === 2;
        },
        15_000,
      );
      const forget = cli(['memory', 'forget', '--phone', FORGOTTEN, '--actor', 'test'], env(first));
      assert.equal(forget.status, 0, forget.stderr);
      assert.equal(JSON.parse(forget.stdout).counts.recordings, 1, 'forget deletes the recording too');

      const backup = cli(['memory', 'backup', '--keep', '3'], env(first));
      assert.equal(backup.status, 0, backup.stderr);
      const made = JSON.parse(backup.stdout) as { key: string; rows: Record<string, number> };
      assert.match(made.key, /^prod\/backups\/memory-\d{8}T\d{6}Z\.cfbackup$/);
      assert.equal(made.rows.callers, 1);
      assert.equal(made.rows.call_recordings, 1);
      const keyFile = join(dir, 'keyring.json');
      const exported = cli(['memory', 'keys', 'export', '--out', keyFile], env(first));
      assert.equal(exported.status, 0, exported.stderr);
      assert.ok(
        !readFileSync(keyFile, 'utf8').includes(KEY_SPEC.split(':')[1] as string),
        'sealed, not clear',
      );
    } finally {
      await gw1.stop();
      await pool1.end();
      await first.destroy();
    }

    // The database is gone. A new one, the keyring from its backup, the dump from the bucket.
    const keyFile = join(dir, 'keyring.json');
    const wrong = cli(['memory', 'keys', 'import', '--in', keyFile], {
      CALLFLEET_KEY_PASSPHRASE: 'not the passphrase',
    });
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /wrong passphrase/);
    const imported = cli(['memory', 'keys', 'import', '--in', keyFile], {
      CALLFLEET_KEY_PASSPHRASE: PASSPHRASE,
    });
    assert.equal(imported.status, 0, imported.stderr);
    const recoveredKey = imported.stdout.trim();
    assert.equal(recoveredKey, KEY_SPEC);
    const second = await startPostgres();
    const restore = cli(['memory', 'restore', '--from', 'latest'], env(second, recoveredKey));
    assert.equal(restore.status, 0, restore.stderr);
    assert.equal(JSON.parse(restore.stdout).rows.callers, 1);
    const again = cli(['memory', 'restore', '--from', 'latest', '--if-empty'], env(second, recoveredKey));
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /skipped/);
    const gw2 = await gateway('after-restore', second, recoveredKey);
    const pool2 = createPool(second.url, { max: 2 });
    try {
      await waitFor('migrated', async () => (await gw2.metric('callfleet_memory_up')) === 1);
      const remembered = await callAndGetContext(gw2, REMEMBERED);
      const ctx = remembered.start.context as {
        returning: boolean;
        callCount: number;
        lastCallSummary?: string;
      };
      assert.equal(ctx.returning, true, 'remembered on the next call');
      assert.equal(ctx.callCount, 1);
      assert.match(String(ctx.lastCallSummary), /blue kayak/);
      const forgotten = await callAndGetContext(gw2, FORGOTTEN);
      const fctx = forgotten.start.context as { returning: boolean } | null;
      assert.equal(fctx?.returning ?? false, false, 'stays forgotten');

      // Key rotation: a new key first, the old one still in the ring; rekey moves everything over.
      await waitFor(
        'the new calls written',
        async () => (await pool2.query('SELECT count(*)::int AS n FROM calls')).rows[0].n === 3,
        15_000,
      );
      const k2 = generateKeySpec('k2');
      const rotated = `${k2},${KEY_SPEC}`;
      const rekeyed = cli(['memory', 'rekey', '--batch', '2'], env(second, rotated));
      assert.equal(rekeyed.status, 0, rekeyed.stderr);
      const result = JSON.parse(rekeyed.stdout) as {
        rekeyed: { callers: number; memories: number; recordings: number };
        remaining: Record<string, number>;
      };
      assert.ok(
        result.rekeyed.callers >= 2 && result.rekeyed.memories >= 1 && result.rekeyed.recordings >= 1,
        rekeyed.stdout,
      );
      assert.deepEqual(Object.values(result.remaining), [0, 0, 0, 0, 0, 0]);
      // The old key can go: with only k2 the caller, their memories and their recording still open.
      const onlyNew = parseKeyring(k2);
      const store = new PostgresCallerMemory({ pool: pool2, keyring: onlyNew });
      const after = await store.lookup(REMEMBERED, 5000);
      assert.equal(after?.returning, true);
      assert.match(String(after?.lastCallSummary), /blue kayak/);
      const hits = await store.search(after?.callerId ?? '', 'kayak');
      assert.ok(hits.length > 0, 'search tokens re-indexed under the new key');
      await store.close();
      const rec = (
        await pool2.query(
          `SELECT object_key, stream_sid, key_id FROM call_recordings WHERE status = 'complete' LIMIT 1`,
        )
      ).rows[0];
      assert.equal(rec.key_id, 'k2');
      const b = s3.bucket('team', 'prod/');
      const wav = await readRecording(b, onlyNew, rec.object_key, rec.stream_sid);
      assert.equal(splitStereoMulaw(wav).channels, 2);
      b.destroy();
    } finally {
      await gw2.stop();
      await pool2.end();
      await second.destroy();
    }
  });
});
