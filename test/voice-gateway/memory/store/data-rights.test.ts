import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { phoneHashes, tombstoneHashes } from '../../../../voice-gateway/memory/store/crypto.ts';
import { exportCaller, forgetCaller, listAudit } from '../../../../voice-gateway/memory/store/data-rights.ts';
import { callRecord, type Harness, phoneForms, startHarness } from '../harness.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.close();
});

const ADA = '+14155550201';
const BOB = '+14155550202';

describe('caller data rights', () => {
  test('export returns exactly the caller’s data, decrypted, with timestamps', async () => {
    const store = h.store();
    store.record(
      callRecord(ADA, {
        summary: 'Ada asked about the aurora tour',
        memories: [{ kind: 'fact', text: 'name: Ada' }],
        transcript: [{ role: 'caller', text: 'Tell me about the aurora tour', atMs: 1000 }],
      }),
    );
    store.record(callRecord(ADA, { summary: 'Ada booked the aurora tour' }));
    store.record(
      callRecord(BOB, {
        summary: 'Bob asked about kayak rental',
        transcript: [{ role: 'caller', text: 'Do you rent kayaks', atMs: 1000 }],
      }),
    );
    await store.flush(5000);
    const doc = await exportCaller(h.pool, h.keyring, ADA, 'test');
    assert.equal(doc.found, true);
    assert.equal(doc.caller?.phone, ADA);
    assert.deepEqual(doc.caller?.profile, { name: 'Ada' });
    assert.equal(doc.caller?.callCount, 2);
    assert.equal(doc.calls.length, 2);
    assert.equal(doc.calls[0]?.to, '+15550000000');
    assert.ok(doc.calls.every((c) => c.startedAt && c.endedAt && c.transcript.every((t) => t.at)));
    assert.deepEqual(
      doc.memories.map((m) => m.text).sort(),
      ['Ada asked about the aurora tour', 'Ada booked the aurora tour', 'name: Ada'].sort(),
    );
    const text = JSON.stringify(doc);
    assert.ok(text.includes('Tell me about the aurora tour'));
    assert.ok(!text.includes('kayak'));
    assert.ok(!text.includes(BOB));
    const none = await exportCaller(h.pool, h.keyring, '+14155550299', 'test');
    assert.equal(none.found, false);
    assert.deepEqual(none.calls, []);
  });

  test('forget deletes everything about the caller, leaves others, and audits without personal data', async () => {
    const result = await forgetCaller(h.pool, h.keyring, ADA, 'dpo@example.com');
    assert.deepEqual(result.counts, { callers: 1, calls: 2, transcriptTurns: 4, memories: 3, recordings: 0 });
    const dump = h.dump();
    for (const form of phoneForms(ADA)) assert.ok(!dump.includes(form), `dump contains ${form}`);
    assert.ok(!dump.includes((phoneHashes(h.keyring, ADA)[0] as Buffer).toString('hex')));
    assert.ok(!dump.toLowerCase().includes('aurora'));
    assert.ok(!dump.includes('name: Ada'));
    // Bob is untouched.
    const bob = await exportCaller(h.pool, h.keyring, BOB, 'test');
    assert.equal(bob.found, true);
    assert.equal(bob.calls[0]?.transcript[0]?.text, 'Do you rent kayaks');
    // The audit entry exists and holds only a keyed hash, the actor, the time and counts.
    const entries = await listAudit(h.pool, { action: 'forget' });
    assert.equal(entries.length, 1);
    const entry = entries[0];
    assert.equal(entry?.subjectHash, (tombstoneHashes(h.keyring, ADA)[0] as Buffer).toString('hex'));
    assert.equal(entry?.actor, 'dpo@example.com');
    assert.deepEqual(entry?.counts, result.counts);
    const auditText = JSON.stringify(await listAudit(h.pool));
    for (const form of phoneForms(ADA)) assert.ok(!auditText.includes(form));
    // A forgotten caller who calls again is a new caller.
    const store = h.store();
    assert.equal((await store.lookup(ADA, 1000))?.returning, false);
    store.record(
      callRecord(ADA, {
        startedAt: new Date(Date.now() + 1000).toISOString(),
        endedAt: new Date(Date.now() + 2000).toISOString(),
      }),
    );
    await store.flush(5000);
    const again = await store.lookup(ADA, 1000);
    assert.equal(again?.callCount, 1);
    assert.ok(!again?.memories.some((m) => m.text.includes('aurora')));
  });

  test('a forget during a live call leaves nothing behind once the call has ended', async () => {
    const store = h.store();
    const phone = '+14155550203';
    // The caller had an earlier call, and is on a call now.
    store.record(callRecord(phone, { summary: 'Earlier call about zeppelin tickets' }));
    await store.flush(5000);
    const live = callRecord(phone, {
      startedAt: new Date(Date.now() - 30_000).toISOString(),
      endedAt: new Date(Date.now() + 30_000).toISOString(),
      summary: 'Live call about zeppelin seating',
      transcript: [{ role: 'caller', text: 'Zeppelin seating please', atMs: 1000 }],
    });
    await forgetCaller(h.pool, h.keyring, phone, 'dpo');
    // The call ends after the forget and its record reaches the store.
    store.record(live);
    await store.flush(5000);
    assert.equal(store.pendingWrites, 0);
    assert.equal((await exportCaller(h.pool, h.keyring, phone, 'test')).found, false);
    const dump = h.dump();
    assert.ok(!dump.toLowerCase().includes('zeppelin'));
    for (const form of phoneForms(phone)) assert.ok(!dump.includes(form));
  });
});
