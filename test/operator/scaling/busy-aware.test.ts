import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideReplicas } from '../../../operator/scaling/busy-aware.ts';

test('scaling up happens at once', () => {
  assert.deepEqual(decideReplicas(6, 2, { idlePods: 0, fresh: true }), { replicas: 6, waiting: false });
  assert.deepEqual(decideReplicas(2, undefined, undefined), { replicas: 2, waiting: false });
});

test('scaling down removes only as many pods as are idle, and keeps waiting for the rest', () => {
  assert.deepEqual(decideReplicas(2, 6, { idlePods: 1, fresh: true }), { replicas: 5, waiting: true });
  assert.deepEqual(decideReplicas(2, 6, { idlePods: 4, fresh: true }), { replicas: 2, waiting: false });
  assert.deepEqual(decideReplicas(2, 6, { idlePods: 9, fresh: true }), { replicas: 2, waiting: false });
  assert.deepEqual(decideReplicas(2, 6, { idlePods: 0, fresh: true }), { replicas: 6, waiting: true });
});

test('without fresh call data nothing is removed', () => {
  assert.deepEqual(decideReplicas(2, 6, { idlePods: 6, fresh: false }), { replicas: 6, waiting: true });
  assert.deepEqual(decideReplicas(2, 6, undefined), { replicas: 6, waiting: true });
});
