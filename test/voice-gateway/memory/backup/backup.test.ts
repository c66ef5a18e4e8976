// Backups that leave the cluster (issue 19, acceptance a, at the library level): caller data written
// by the real store on a real PostgreSQL is backed up sealed into a real S3 server, the database is
// destroyed, and a NEW database restored from the bucket remembers the caller from before the backup
// and keeps the forgotten caller forgotten (their tombstone travels with the backup).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  backupToBucket,
  listBackups,
  pruneBackups,
  restoreFromBucket,
} from '../../../../voice-gateway/memory/backup/bucket-backups.ts';
import { RestoreRefused } from '../../../../voice-gateway/memory/backup/restore.ts';
import { parseKeyring } from '../../../../voice-gateway/memory/store/crypto.ts';
import { forgetCaller } from '../../../../voice-gateway/memory/store/data-rights.ts';
import { migrate } from '../../../../voice-gateway/memory/store/migrate.ts';
import { createPool } from '../../../../voice-gateway/memory/store/pool.ts';
import { PostgresCallerMemory } from '../../../../voice-gateway/memory/store/postgres-store.ts';
import { startPostgres } from '../../../support/postgres.ts';
import { startS3, type TestS3 } from '../../../support/s3.ts';
import { callRecord, KEY_SPEC } from '../harness.ts';

const REMEMBERED = '+14155550201';
const FORGOTTEN = '+14155550202';

describe('memory backup to object storage and restore into a new database', () => {
  let s3: TestS3;
  before(async () => {
    s3 = await startS3();
    await s3.createBucket('backups');
  });
  after(async () => {
    await s3?.stop();
  });

  test('backup, destroy the database, restore: remembered stays remembered, forgotten stays forgotten', async () => {
    const ring = parseKeyring(KEY_SPEC);
    const bucket = s3.bucket('backups', 'team-a/');
    const first = await startPostgres();
    const pool = createPool(first.url, { max: 4 });
    await migrate(pool);
    const store = new PostgresCallerMemory({ pool, keyring: ring });
    store.record(
      callRecord(REMEMBERED, {
        summary: 'Ordered a large margherita to 12 Elm Street',
        memories: [{ kind: 'fact', text: 'Allergic to peanuts' }],
      }),
    );
    store.record(callRecord(FORGOTTEN, { summary: 'Asked about a refund' }));
    await store.flush(10_000);
    assert.ok(await store.lookup(FORGOTTEN, 5000), 'the second caller is stored before the forget');
    await forgetCaller(pool, ring, FORGOTTEN, 'test');
    const backup = await backupToBucket(pool, bucket, ring, { keep: 3 });
    assert.equal(backup.rows.callers, 1);
    assert.equal(backup.rows.memory_audit, 1);
    assert.ok(backup.storedBytes > backup.plaintextBytes, 'sealed: tags make it larger');
    await store.close();
    await pool.end();
    await first.destroy();

    const second = await startPostgres();
    const pool2 = createPool(second.url, { max: 4 });
    try {
      const restored = await restoreFromBucket(pool2, bucket, ring, 'latest');
      assert.equal(restored.key, backup.key);
      assert.deepEqual(restored.rows, backup.rows);
      const store2 = new PostgresCallerMemory({ pool: pool2, keyring: ring });
      const ctx = await store2.lookup(REMEMBERED, 5000);
      assert.ok(ctx?.returning, 'the caller from before the backup is remembered');
      assert.equal(ctx?.callCount, 1);
      assert.ok(ctx?.memories.some((m) => m.text === 'Allergic to peanuts'));
      assert.equal(ctx?.lastCallSummary, 'Ordered a large margherita to 12 Elm Street');
      const gone = await store2.lookup(FORGOTTEN, 5000);
      assert.equal(gone?.returning, false, 'the forgotten caller stays forgotten');
      assert.deepEqual(gone?.memories, []);
      // A call of the forgotten caller that started before the forget and arrives late is still dropped.
      store2.record(callRecord(FORGOTTEN, { startedAt: new Date(Date.now() - 3_600_000).toISOString() }));
      await store2.flush(10_000);
      assert.equal((await store2.lookup(FORGOTTEN, 5000))?.returning, false);
      // New rows after the restore get fresh identities (sequences moved past the restored ids).
      store2.record(callRecord(REMEMBERED, { memories: [{ kind: 'fact', text: 'Prefers evenings' }] }));
      await store2.flush(10_000);
      const calls = await pool2.query('SELECT count(*)::int AS n FROM calls');
      assert.equal(calls.rows[0].n, 2);
      assert.equal((await store2.lookup(REMEMBERED, 5000))?.callCount, 2);
      await store2.close();
      // A restore never mixes into a database that already holds callers.
      await assert.rejects(restoreFromBucket(pool2, bucket, ring, 'latest'), RestoreRefused);
    } finally {
      await pool2.end();
      await second.destroy();
    }
    bucket.destroy();
  });

  test('a backup does not open without its key, and a truncated backup restores nothing', async () => {
    const ring = parseKeyring(KEY_SPEC);
    const bucket = s3.bucket('backups', 'team-b/');
    const db = await startPostgres();
    const pool = createPool(db.url, { max: 4 });
    try {
      await migrate(pool);
      const store = new PostgresCallerMemory({ pool, keyring: ring });
      store.record(callRecord(REMEMBERED));
      await store.flush(10_000);
      await store.close();
      const backup = await backupToBucket(pool, bucket, ring);
      const other = parseKeyring(`k7:${randomBytes(32).toString('base64')}`);
      const target = await startPostgres();
      const tpool = createPool(target.url, { max: 2 });
      try {
        await assert.rejects(restoreFromBucket(tpool, bucket, other, backup.key), /key id "k1"/);
        const { body, metadata } = await bucket.getBuffer(backup.key);
        await bucket.put(
          bucket.key('backups/memory-29990101T000000Z.cfbackup'),
          body.subarray(0, body.length - 20),
          metadata,
        );
        await assert.rejects(
          restoreFromBucket(tpool, bucket, ring, 'latest'),
          /failed authentication|truncated/,
        );
        const { rows } = await tpool.query('SELECT count(*)::int AS n FROM callers');
        assert.equal(rows[0].n, 0, 'all or nothing');
      } finally {
        await tpool.end();
        await target.destroy();
      }
    } finally {
      await pool.end();
      await db.destroy();
      bucket.destroy();
    }
  });

  test('backups are kept by count and by age, never the newest one', async () => {
    const bucket = s3.bucket('backups', 'team-c/');
    const names = ['20260101T000000Z', '20260102T000000Z', '20260103T000000Z', '20260104T000000Z'];
    for (const n of names) await bucket.put(bucket.key(`backups/memory-${n}.cfbackup`), Buffer.from(n));
    const pruned = await pruneBackups(bucket, { keep: 2 });
    assert.deepEqual(
      pruned.map((k) => k.slice(-26, -9)),
      ['20260102T000000Z', '20260101T000000Z'].map((n) => `-${n}`),
    );
    // Every object is younger than a day, so an age limit of 1 day keeps both...
    assert.deepEqual(await pruneBackups(bucket, { keep: 5, maxAgeDays: 1 }), []);
    // ...and as seen from a week later it drops all but the newest.
    const later = new Date(Date.now() + 7 * 86_400_000);
    assert.equal((await pruneBackups(bucket, { keep: 5, maxAgeDays: 1 }, later)).length, 1);
    assert.deepEqual(
      (await listBackups(bucket)).map((b) => b.key.slice(-26)),
      ['-20260104T000000Z.cfbackup'],
    );
    bucket.destroy();
  });
});
