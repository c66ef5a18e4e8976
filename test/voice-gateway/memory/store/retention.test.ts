import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RETENTION_LOCK_ID, sweepRetention } from '../../../../voice-gateway/memory/store/retention.ts';
import { callRecord, type Harness, startHarness } from '../harness.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.close();
});

const DAY = 86_400_000;

function at(daysAgo: number, phone: string, text: string) {
  const started = new Date(Date.now() - daysAgo * DAY);
  return callRecord(phone, {
    startedAt: started.toISOString(),
    endedAt: new Date(started.getTime() + 60_000).toISOString(),
    summary: `summary ${text}`,
    transcript: [
      { role: 'caller', text: `caller ${text}`, atMs: 0 },
      { role: 'agent', text: `agent ${text}`, atMs: 1000 },
    ],
  });
}

describe('retention sweeper', () => {
  test('deletes exactly the transcripts and memories older than the configured days, in batches', async () => {
    const store = h.store({ encryptText: false });
    // 7 old calls (40 days), 5 recent calls (2 days), over two callers.
    for (let i = 0; i < 7; i++) store.record(at(40, i % 2 ? '+14155550301' : '+14155550302', `old${i}`));
    for (let i = 0; i < 5; i++) store.record(at(2, i % 2 ? '+14155550301' : '+14155550302', `new${i}`));
    // 20-day-old call: transcripts go (>14 days), memories stay (<30 days).
    store.record(at(20, '+14155550301', 'mid'));
    await store.flush(5000);

    const result = await sweepRetention(h.pool, { transcriptsDays: 14, memoriesDays: 30, batchSize: 3 });
    assert.deepEqual(result, { ran: true, transcriptTurns: 16, memories: 7 });
    const turns = await h.pool.query<{ text: string }>('SELECT text FROM transcript_turns ORDER BY text');
    assert.deepEqual(
      turns.rows.map((r) => r.text),
      [
        'agent new0',
        'agent new1',
        'agent new2',
        'agent new3',
        'agent new4',
        'caller new0',
        'caller new1',
        'caller new2',
        'caller new3',
        'caller new4',
      ],
    );
    const memories = await h.pool.query<{ text: string }>('SELECT text FROM memories ORDER BY text');
    assert.deepEqual(
      memories.rows.map((r) => r.text),
      ['summary mid', 'summary new0', 'summary new1', 'summary new2', 'summary new3', 'summary new4'],
    );
    // A second sweep has nothing left to do.
    assert.deepEqual(await sweepRetention(h.pool, { transcriptsDays: 14, memoriesDays: 30 }), {
      ran: true,
      transcriptTurns: 0,
      memories: 0,
    });
  });

  test('one pod at a time: skipped while another holds the lock', async () => {
    const other = await h.pool.connect();
    try {
      await other.query('SELECT pg_advisory_lock($1)', [RETENTION_LOCK_ID.toString()]);
      assert.deepEqual(await sweepRetention(h.pool, { transcriptsDays: 1 }), {
        ran: false,
        transcriptTurns: 0,
        memories: 0,
      });
    } finally {
      await other.query('SELECT pg_advisory_unlock($1)', [RETENTION_LOCK_ID.toString()]);
      other.release();
    }
  });
});
