import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rolloutFailure } from '../../../operator/rollout/judge.ts';
import { replicaSetOf, templateOf } from '../../../operator/rollout/revisions.ts';

const policy = { maxCallFailureRate: 0.1, minCalls: 5 };
const progressing = (status: string, reason: string) => ({
  status: {
    conditions: [
      { type: 'Progressing', status, reason, message: 'ReplicaSet "x" has timed out progressing.' },
    ],
  },
});

test('a rollout past its progress deadline has failed', () => {
  assert.match(
    String(rolloutFailure(progressing('False', 'ProgressDeadlineExceeded'), { total: 0, failed: 0 }, policy)),
    /did not become ready/,
  );
  assert.equal(
    rolloutFailure(progressing('True', 'ReplicaSetUpdated'), { total: 0, failed: 0 }, policy),
    undefined,
  );
});

test('new pods failing more calls than allowed fail the rollout, once there are enough calls to judge', () => {
  const deployment = progressing('True', 'ReplicaSetUpdated');
  assert.match(String(rolloutFailure(deployment, { total: 6, failed: 3 }, policy)), /3 of 6 calls failed/);
  assert.equal(
    rolloutFailure(deployment, { total: 4, failed: 4 }, policy),
    undefined,
    'too few calls to judge',
  );
  assert.equal(
    rolloutFailure(deployment, { total: 20, failed: 2 }, policy),
    undefined,
    '10% is not above 10%',
  );
});

test('the rollback target is the ReplicaSet of the last good revision, without its hash label', () => {
  const deployment = { metadata: { uid: 'd1' } };
  const rs = (revision: string, owner: string) => ({
    metadata: {
      annotations: { 'deployment.kubernetes.io/revision': revision },
      ownerReferences: [{ uid: owner, apiVersion: 'apps/v1', kind: 'Deployment', name: 'x' }],
    },
    spec: {
      selector: {},
      template: { metadata: { labels: { app: 'g', 'pod-template-hash': 'abc' } }, spec: { containers: [] } },
    },
  });
  const sets = [rs('1', 'other'), rs('1', 'd1'), rs('2', 'd1')];
  const good = replicaSetOf(sets, deployment, '1');
  assert.equal(good, sets[1]);
  assert.ok(good);
  assert.deepEqual(templateOf(good)?.metadata?.labels, { app: 'g' });
  assert.equal(replicaSetOf(sets, deployment, '7'), undefined);
});

test('calls.total == minCalls is judged; one call fewer is not', () => {
  const deployment = progressing('True', 'ReplicaSetUpdated');
  // minCalls 5: exactly 5 calls with 3 failed (60% > 10%) fails the rollout ...
  assert.match(String(rolloutFailure(deployment, { total: 5, failed: 3 }, policy)), /3 of 5 calls failed/);
  // ... 4 calls, even all failed, are too few to judge.
  assert.equal(rolloutFailure(deployment, { total: 4, failed: 4 }, policy), undefined);
  // The rate boundary: exactly maxCallFailureRate passes, just above fails.
  const strict = { maxCallFailureRate: 0.2, minCalls: 5 };
  assert.equal(
    rolloutFailure(deployment, { total: 5, failed: 1 }, strict),
    undefined,
    '20% is not above 20%',
  );
  assert.match(String(rolloutFailure(deployment, { total: 5, failed: 2 }, strict)), /2 of 5 calls failed/);
  // maxCallFailureRate 0: any failed call fails a judged rollout; none passes.
  const zero = { maxCallFailureRate: 0, minCalls: 1 };
  assert.match(String(rolloutFailure(deployment, { total: 1, failed: 1 }, zero)), /1 of 1 calls failed/);
  assert.equal(rolloutFailure(deployment, { total: 1, failed: 0 }, zero), undefined);
});
