import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import client from 'prom-client';
import { parseKeyring, phoneHashes } from '../../../../voice-gateway/memory/store/crypto.ts';
import { callRecord, type Harness, KEY_SPEC, phoneForms, startHarness } from '../harness.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.close();
});

describe('PostgresCallerMemory', () => {
  test('second call from the same number sees what the first call wrote', async () => {
    const store = h.store();
    const phone = '+14155550101';
    const first = await store.lookup(phone, 1000);
    assert.ok(first);
    assert.equal(first.returning, false);
    assert.equal(first.callCount, 0);

    store.record(
      callRecord(phone, {
        summary: 'Ordered a large margherita pizza; prefers delivery after 6pm.',
        memories: [
          { kind: 'fact', text: 'name: Ada' },
          { kind: 'preference', text: 'Likes extra basil' },
        ],
      }),
    );
    await store.flush(5000);
    assert.equal(store.pendingWrites, 0);

    const second = await store.lookup(phone, 1000);
    assert.ok(second);
    assert.equal(second.returning, true);
    assert.equal(second.callCount, 1);
    assert.equal(second.lastCallSummary, 'Ordered a large margherita pizza; prefers delivery after 6pm.');
    assert.deepEqual(second.profile, { name: 'Ada' });
    assert.equal(second.memories[0]?.kind, 'summary');
    assert.ok(second.memories.some((m) => m.text === 'Likes extra basil'));
    assert.ok(second.lastCallAt);

    // Another number is someone else.
    const other = await store.lookup('+14155550199', 1000);
    assert.equal(other?.returning, false);
  });

  test('a summary is derived from the transcript when the backend gave none', async () => {
    const store = h.store();
    const phone = '+14155550102';
    store.record(callRecord(phone));
    await store.flush(5000);
    const context = await store.lookup(phone, 1000);
    assert.match(context?.lastCallSummary ?? '', /margherita pizza/);
  });

  test('search_memory finds memories and transcript turns (encrypted, blind index)', async () => {
    const store = h.store();
    const phone = '+14155550103';
    store.record(
      callRecord(phone, {
        summary: 'Asked about gluten free options',
        transcript: [{ role: 'caller', text: 'My dog Biscuit hates thunderstorms', atMs: 100 }],
      }),
    );
    await store.flush(5000);
    const context = await store.lookup(phone, 1000);
    assert.ok(context?.callerId);
    const hits = await store.search(context.callerId, 'gluten');
    assert.deepEqual(
      hits.map((x) => x.text),
      ['Asked about gluten free options'],
    );
    const turnHits = await store.search(context.callerId, 'thunderstorm biscuit');
    assert.equal(turnHits[0]?.text, 'Caller said: My dog Biscuit hates thunderstorms');
    assert.deepEqual(await store.search(context.callerId, 'unrelated words'), []);
    // Another caller's memories are not searchable with this caller's id.
    const other = await store.lookup('+14155550101', 1000);
    assert.deepEqual(await store.search(other?.callerId ?? '', 'gluten'), []);
    // Nothing of the text is stored in clear.
    const dump = h.dump();
    assert.ok(!dump.includes('Biscuit'));
    assert.ok(!dump.includes('gluten'));
  });

  test('search finds words whose blind token looks like a number to the text-search parser', async () => {
    // Under KEY_SPEC, "peanuts" hashes to 58040e7640c3836b: to_tsquery() would split it as 58040e7640.
    const store = h.store();
    const phone = '+14155550109';
    store.record(
      callRecord(phone, {
        summary: 'Allergic to peanuts',
        transcript: [{ role: 'caller', text: 'I am allergic to peanuts', atMs: 100 }],
      }),
    );
    await store.flush(5000);
    const context = await store.lookup(phone, 1000);
    assert.ok(context?.callerId);
    const hits = await store.search(context.callerId, 'peanuts');
    assert.deepEqual(hits.map((x) => x.text).sort(), [
      'Allergic to peanuts',
      'Caller said: I am allergic to peanuts',
    ]);
  });

  test('search works on plain text when text encryption is off', async () => {
    const store = h.store({ encryptText: false });
    const phone = '+14155550104';
    store.record(callRecord(phone, { summary: 'Wants to reschedule the plumbing appointment' }));
    await store.flush(5000);
    const context = await store.lookup(phone, 1000);
    const hits = await store.search(context?.callerId ?? '', 'plumbing appointments');
    assert.equal(hits[0]?.text, 'Wants to reschedule the plumbing appointment');
  });

  test('writes are idempotent per callSid', async () => {
    const store = h.store();
    const phone = '+14155550105';
    const record = callRecord(phone);
    store.record(record);
    store.record(record);
    await store.flush(5000);
    assert.equal(await store.writeCall(record), 'duplicate');
    const { rows } = await h.pool.query('SELECT count(*)::int AS n FROM calls WHERE call_sid = $1', [
      record.callSid,
    ]);
    assert.equal(rows[0].n, 1);
    assert.equal((await store.lookup(phone, 1000))?.callCount, 1);
  });

  test('lookup past its budget returns null and counts a miss', async () => {
    const store = h.store();
    const metric = client.register.getSingleMetric('callfleet_memory_lookup_misses_total');
    const before = (await metric?.get())?.values.find((v) => v.labels.reason === 'timeout')?.value ?? 0;
    const blocker = await h.pool.connect();
    try {
      // Hold a lock the lookup needs: ACCESS EXCLUSIVE on callers blocks its read.
      await blocker.query('BEGIN; LOCK TABLE callers IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      const result = await store.lookup('+14155550101', 150);
      const elapsed = Date.now() - started;
      assert.equal(result, null);
      assert.ok(elapsed < 400, `lookup took ${elapsed} ms`);
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
    const afterCount = (await metric?.get())?.values.find((v) => v.labels.reason === 'timeout')?.value ?? 0;
    assert.equal(afterCount, before + 1);
  });

  test('a database restart mid-call loses no transcript', async () => {
    const store = h.store();
    const phone = '+14155550106';
    const record = callRecord(phone);
    await h.pg.stop();
    store.record(record);
    // The lookup during the outage does not hang: it misses within budget.
    assert.equal(await store.lookup(phone, 150), null);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(store.pendingWrites >= 1);
    await h.pg.start();
    await store.flush(10_000);
    assert.equal(store.pendingWrites, 0);
    const { rows } = await h.pool.query(
      'SELECT count(*)::int AS n FROM transcript_turns t JOIN calls c ON c.id = t.call_id WHERE c.call_sid = $1',
      [record.callSid],
    );
    assert.equal(rows[0].n, record.transcript.length);
    const calls = await h.pool.query('SELECT count(*)::int AS n FROM calls WHERE call_sid = $1', [
      record.callSid,
    ]);
    assert.equal(calls.rows[0].n, 1);
  });

  test('key rotation: old rows readable and searchable, caller re-keyed on the next call', async () => {
    const oldStore = h.store();
    const phone = '+14155550107';
    oldStore.record(callRecord(phone, { summary: 'Asked about the walrus exhibit' }));
    await oldStore.flush(5000);
    const rotated = parseKeyring(`k2:${randomBytes(32).toString('base64')},${KEY_SPEC}`);
    const store = h.store({ keyring: rotated });
    const context = await store.lookup(phone, 1000);
    assert.equal(context?.lastCallSummary, 'Asked about the walrus exhibit');
    assert.equal(
      (await store.search(context?.callerId ?? '', 'walrus'))[0]?.text,
      'Asked about the walrus exhibit',
    );
    store.record(callRecord(phone, { summary: 'Booked the walrus exhibit' }));
    await store.flush(5000);
    const { rows } = await h.pool.query('SELECT key_id FROM callers WHERE id = $1', [context?.callerId]);
    assert.equal(rows[0].key_id, 'k2');
    const after = await store.lookup(phone, 1000);
    assert.equal(after?.callerId, context?.callerId);
    assert.equal(after?.callCount, 2);
    assert.equal((await store.search(after?.callerId ?? '', 'walrus')).length, 2);
  });

  test('no clear phone number in any table', async () => {
    const dump = h.dump();
    for (const phone of ['+14155550101', '+14155550102', '+14155550103', '+14155550105', '+14155550106']) {
      for (const form of phoneForms(phone)) assert.ok(!dump.includes(form), `dump contains ${form}`);
    }
    // The lookup hash is there (that is how callers are found), the number is not.
    const hash = (phoneHashes(h.keyring, '+14155550101')[0] as Buffer).toString('hex');
    assert.ok(dump.includes(hash));
  });
});
