// Hand-off records in PostgreSQL: encrypted at rest, read once, gone after their TTL.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { HandoffRecord } from '../../../voice-gateway/memory/types.ts';
import { type Harness, phoneForms, startHarness } from './harness.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.close();
});

function record(callSid: string): HandoffRecord {
  return {
    callSid,
    from: '+14155550177',
    to: '+14155550199',
    startedAt: new Date(Date.now() - 30_000).toISOString(),
    transcript: [
      { role: 'agent', text: 'Hello, how can I help?', atMs: 400 },
      { role: 'caller', text: 'My margherita order is late', atMs: 3100 },
    ],
    context: { callerId: 'c1', returning: true, callCount: 2, profile: { name: 'Ada' }, memories: [] },
    handoffs: 1,
  };
}

describe('hand-off records (PostgreSQL)', () => {
  it('round trip, read once, nothing in clear in the database', async () => {
    const store = h.store();
    const saved = record('CAhandoff1');
    await store.saveHandoff(saved);
    const dump = h.dump();
    for (const form of phoneForms(saved.from)) assert.ok(!dump.includes(form), `no ${form} in clear`);
    assert.ok(!dump.includes('margherita'), 'transcript encrypted');
    assert.deepEqual(await store.takeHandoff('CAhandoff1'), saved);
    assert.equal(await store.takeHandoff('CAhandoff1'), null, 'read once');
    assert.equal(await store.takeHandoff('CAunknown'), null);
  });

  it('a second hand-off of the same call replaces the record; an expired record is not resumed and is swept', async () => {
    const store = h.store({ handoffTtlMs: 200 });
    await store.saveHandoff(record('CAhandoff2'));
    await store.saveHandoff({ ...record('CAhandoff2'), handoffs: 2 });
    assert.equal((await store.takeHandoff('CAhandoff2'))?.handoffs, 2);
    await store.saveHandoff(record('CAexpired'));
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(await store.takeHandoff('CAexpired'), null, 'expired');
    await store.saveHandoff(record('CAold'));
    await new Promise((r) => setTimeout(r, 400));
    await store.saveHandoff(record('CAnew'));
    const rows = await h.pool.query<{ call_sid: string }>('SELECT call_sid FROM call_handoffs');
    assert.deepEqual(
      rows.rows.map((r) => r.call_sid),
      ['CAnew'],
      'expired rows deleted on the next write',
    );
  });
});
