// Count-only VoiceAgent status changes are paced; everything else is written at once.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { condition } from '../../../operator/reconcile/conditions.ts';
import { classifyStatusChange, StatusPacer } from '../../../operator/reconcile/status-pacing.ts';
import {
  example,
  type Harness,
  harness,
  readyCondition,
  reconcileAgent,
  reportDeployment,
  secret,
} from './harness.ts';

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const counts = new Set(['readyReplicas']);

describe('classifyStatusChange', () => {
  const calls = new Set(['activeCalls']);
  const status = (
    ready: number,
    readyStatus: boolean,
    reason = 'RollingOut',
    generation = 1,
    active = 0,
  ) => ({
    observedGeneration: generation,
    readyReplicas: ready,
    activeCalls: active,
    conditions: [condition('Ready', readyStatus, reason, `${ready}/3 gateway pods available`, generation)],
  });
  const kind = (a: Record<string, unknown>, b: Record<string, unknown>) =>
    classifyStatusChange(a, b, counts, calls, same);

  test('a count and a condition message alone are counts; call counts may go with them', () => {
    assert.equal(kind(status(1, false), status(2, false)), 'counts');
    assert.equal(kind(status(1, false), status(2, false, 'RollingOut', 1, 5)), 'counts');
  });

  test('call counts alone are calls', () => {
    assert.equal(kind(status(3, true, 'Available', 1, 4), status(3, true, 'Available', 1, 5)), 'calls');
  });

  test('a condition flipping, a new reason, a new generation or another field is other', () => {
    assert.equal(kind(status(2, false), status(3, true, 'Available')), 'other');
    assert.equal(kind(status(2, false), status(2, false, 'RolloutStalled')), 'other');
    assert.equal(kind(status(2, false), status(2, false, 'RollingOut', 2)), 'other');
    assert.equal(
      kind(
        { ...status(1, false), selector: 'a' },
        { ...status(1, false, 'RollingOut', 1, 3), selector: 'b' },
      ),
      'other',
    );
    assert.equal(kind({}, status(1, false)), 'other', 'a first status');
  });
});

describe('StatusPacer', () => {
  test('one write per window per object; the sweep forgets objects whose window has passed', () => {
    let now = 0;
    const pacer = new StatusPacer(5000, () => now);
    assert.equal(pacer.waitFor('a'), 0);
    pacer.wrote('a');
    now = 1000;
    assert.equal(pacer.waitFor('a'), 4000);
    assert.equal(pacer.waitFor('b'), 0, 'per object');
    now = 5000;
    assert.equal(pacer.waitFor('a'), 0);
    for (let i = 0; i < 3000; i++) {
      now += 10;
      pacer.wrote(`o${i}`);
    }
    assert.ok(pacer.size < 1600, `${pacer.size} entries held`);
  });

  test('a longer window asked for keeps its entries through the sweep', () => {
    let now = 0;
    const pacer = new StatusPacer(5000, () => now);
    pacer.wrote('a');
    assert.equal(pacer.waitFor('a', 60_000), 60_000);
    for (let i = 0; i < 2048; i++) {
      now += 10;
      pacer.wrote(`o${i}`);
    }
    assert.equal(pacer.waitFor('a', 60_000), 60_000 - now, 'not forgotten after 5 s');
  });
});

describe('VoiceAgent status under pacing', () => {
  let h: Harness;
  let now = 0;
  beforeEach(async () => {
    h = await harness();
    now = 0;
    h.ctx.statusPacer = new StatusPacer(5000, () => now);
  });
  afterEach(async () => {
    await h.stop();
  });

  const KEY = 'team/echo';
  const statusPatches = () =>
    h.kube.writes().filter((c) => c.path.endsWith('/voiceagents/echo/status')).length;
  const va = () => h.kube.find('voiceagents', 'team', 'echo');
  const readyReplicas = () => (va()?.status as { readyReplicas?: number } | undefined)?.readyReplicas;
  const reconcile = () => reconcileAgent(h, KEY);
  const pods = (available: number) => reportDeployment(h, available);

  test('pods coming up one by one: one count write per window, the last count when it ends, Ready at once', async () => {
    h.kube.put(secret('twilio', ['account-sid', 'auth-token']));
    const doc = example('voiceagent-echo.yaml');
    h.kube.put({ ...doc, metadata: { ...doc.metadata, uid: 'va-uid' }, spec: { ...doc.spec, replicas: 3 } });
    await reconcile();
    assert.equal(readyCondition(va())?.reason, 'Creating');
    pods(0);
    await reconcile(); // Creating → RollingOut: a new reason, written at once
    const first = statusPatches();
    assert.equal(readyCondition(va())?.reason, 'RollingOut');

    now += 100;
    pods(1);
    const held = await reconcile();
    assert.equal(statusPatches(), first, 'a count change right after a write waits');
    const after = held && 'requeueAfterMs' in held ? (held.requeueAfterMs ?? 0) : 0;
    assert.ok(after > 4000 && after <= 4900, `requeued after ${after} ms`);
    now += 1000;
    pods(2);
    await reconcile();
    assert.equal(statusPatches(), first, 'still within the window');

    now += 4000; // the window has passed: the requeue writes the latest count
    await reconcile();
    assert.equal(statusPatches(), first + 1);
    assert.equal(readyReplicas(), 2);

    now += 100;
    pods(3);
    await reconcile(); // Ready flips: written at once, inside the window
    assert.equal(statusPatches(), first + 2);
    assert.equal(readyCondition(va())?.status, 'True');
    assert.equal(readyReplicas(), 3);
  });
});
