import assert from 'node:assert/strict';
import { test } from 'node:test';
import { timedOut, within } from '../../../voice-gateway/lib/deadline.ts';

test('within: the work wins when it settles first', async () => {
  assert.equal(await within(Promise.resolve('done'), 1000, () => 'late'), 'done');
});

test('within: the fallback wins at the deadline', async () => {
  const never = new Promise<string>(() => {});
  const started = Date.now();
  assert.equal(await within(never, 30, () => 'late'), 'late');
  assert.ok(Date.now() - started < 1000);
});

test('within: a rejection of the work passes through', async () => {
  await assert.rejects(
    within(Promise.reject(new Error('boom')), 1000, () => 'late'),
    /boom/,
  );
});

test('within: timedOut turns the deadline into an error naming the wait', async () => {
  await assert.rejects(within(new Promise(() => {}), 10, timedOut('bucket upload', 10)), {
    message: 'bucket upload timed out after 10 ms',
  });
});

test('within: no timer is left behind once the work settles', async () => {
  const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  await within(Promise.resolve(1), 60_000, () => 0);
  await new Promise((r) => setImmediate(r));
  const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  assert.equal(after, before);
});
