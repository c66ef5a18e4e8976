import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PermanentWriteError, WriteQueue } from '../../../../voice-gateway/memory/store/write-queue.ts';

describe('WriteQueue', () => {
  test('retries failures with backoff until written, in bounded memory', async () => {
    let failuresLeft = 3;
    const written: number[] = [];
    const queue = new WriteQueue<number>(
      async (n) => {
        if (failuresLeft > 0) {
          failuresLeft -= 1;
          throw new Error('database down');
        }
        written.push(n);
      },
      { baseDelayMs: 5, maxDelayMs: 20, maxPending: 3, concurrency: 1 },
    );
    assert.equal(queue.push(1), true);
    assert.equal(queue.push(2), true);
    assert.equal(queue.push(3), true);
    assert.equal(queue.push(4), false); // full: dropped and counted, never unbounded
    await queue.flush(2000);
    assert.deepEqual(written.sort(), [1, 2, 3]);
    assert.equal(queue.pending, 0);
  });

  test('permanent errors are dropped, not retried; flush honours its deadline', async () => {
    let attempts = 0;
    const queue = new WriteQueue<number>(async () => {
      attempts += 1;
      throw new PermanentWriteError('bad record');
    });
    queue.push(1);
    await queue.flush(1000);
    assert.equal(attempts, 1);
    const stuck = new WriteQueue<number>(
      async () => {
        throw new Error('down');
      },
      { baseDelayMs: 10 },
    );
    stuck.push(1);
    const started = Date.now();
    await stuck.flush(100);
    assert.ok(Date.now() - started < 500);
    assert.equal(stuck.pending, 1);
    stuck.close();
    assert.equal(stuck.pending, 0);
  });
});
