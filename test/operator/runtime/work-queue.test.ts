// The work queue: keys deduped while waiting, a key added while it runs runs once more after (never
// twice at once), failures back off exponentially per key, and requeueAfter brings a key back later.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkQueue } from '../../../operator/runtime/work-queue.ts';
import { waitFor } from '../../support/processes.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('dedupe: a key added many times while it waits runs once', async () => {
  const runs: string[] = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const queue = new WorkQueue(
    async (key) => {
      runs.push(key);
      if (key === 'block') await gate;
      return undefined;
    },
    { concurrency: 1 },
  );
  queue.add('block');
  for (let i = 0; i < 5; i++) queue.add('b');
  assert.equal(queue.depth, 1);
  release();
  await queue.idle();
  assert.deepEqual(runs, ['block', 'b']);
  await queue.stop();
});

test('dirty while running: the key runs again after, never concurrently with itself', async () => {
  let running = 0;
  let maxRunning = 0;
  let runs = 0;
  const queue = new WorkQueue(
    async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      runs++;
      await sleep(20);
      running--;
      return undefined;
    },
    { concurrency: 4 },
  );
  queue.add('k');
  await sleep(5);
  queue.add('k');
  queue.add('k');
  await waitFor('two runs', async () => runs === 2 && running === 0, 2000, 5);
  await sleep(40);
  assert.equal(runs, 2, 'adds while running collapse into one more run');
  assert.equal(maxRunning, 1);
  await queue.stop();
});

test('failures retry with per-key exponential backoff; success resets it', async () => {
  const at: number[] = [];
  const queue = new WorkQueue(
    async () => {
      at.push(performance.now());
      if (at.length < 4) throw new Error('boom');
      return undefined;
    },
    { baseDelayMs: 20, maxDelayMs: 1000 },
  );
  queue.add('k');
  await waitFor('four attempts', async () => at.length === 4, 3000, 5);
  const gaps = at.slice(1).map((t, i) => t - (at[i] as number));
  assert.ok((gaps[0] as number) >= 18, `first retry after ~20 ms (${gaps[0]})`);
  assert.ok((gaps[1] as number) >= 38, `second after ~40 ms (${gaps[1]})`);
  assert.ok((gaps[2] as number) >= 78, `third after ~80 ms (${gaps[2]})`);
  await sleep(100);
  assert.equal(at.length, 4, 'no retry after success');
  await queue.stop();
});

test('requeueAfter brings the key back after the delay; an add meanwhile runs it at once', async () => {
  const at: number[] = [];
  const queue = new WorkQueue(async () => {
    at.push(performance.now());
    return at.length === 1 ? { requeueAfterMs: 60 } : undefined;
  });
  const t0 = performance.now();
  queue.add('k');
  await waitFor('the requeue', async () => at.length === 2, 2000, 2);
  assert.ok((at[1] as number) - t0 >= 55, `after ~60 ms (${(at[1] as number) - t0})`);

  const early: number[] = [];
  const q2 = new WorkQueue(async () => {
    early.push(performance.now());
    return early.length === 1 ? { requeueAfterMs: 10_000 } : undefined;
  });
  q2.add('k');
  await waitFor('first run', async () => early.length === 1, 1000, 2);
  q2.add('k');
  await waitFor('the add runs it now, not in 10 s', async () => early.length === 2, 1000, 2);
  await queue.stop();
  await q2.stop();
});

test('urgent keys go ahead of the backlog (a waiting key moves up), in the order they became urgent', async () => {
  const runs: string[] = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const queue = new WorkQueue(
    async (key) => {
      runs.push(key);
      if (key === 'block') await gate;
      return undefined;
    },
    { concurrency: 1 },
  );
  queue.add('block');
  for (const key of ['a', 'b', 'c', 'd']) queue.add(key);
  queue.add('c', true);
  queue.add('e', true);
  queue.add('c', true);
  assert.equal(queue.depth, 5);
  release();
  await queue.idle();
  assert.deepEqual(runs, ['block', 'c', 'e', 'a', 'b', 'd']);
  await queue.stop();
});
