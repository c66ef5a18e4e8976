import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideReplicas } from '../../../operator/scaling/busy-aware.ts';

const fleet = (idlePods: number, livePods: number, fresh = true) => ({ idlePods, livePods, fresh });

test('scaling up happens at once', () => {
  assert.deepEqual(decideReplicas(6, 2, fleet(0, 2)), { replicas: 6, waiting: false });
  assert.deepEqual(decideReplicas(2, undefined, undefined), { replicas: 2, waiting: false });
});

test('scaling down removes only as many pods as are idle, and keeps waiting for the rest', () => {
  assert.deepEqual(decideReplicas(2, 6, fleet(1, 6)), { replicas: 5, waiting: true });
  assert.deepEqual(decideReplicas(2, 6, fleet(4, 6)), { replicas: 2, waiting: false });
  assert.deepEqual(decideReplicas(2, 6, fleet(9, 6)), { replicas: 2, waiting: false });
  assert.deepEqual(decideReplicas(2, 6, fleet(0, 6)), { replicas: 6, waiting: true });
});

test('without fresh call data nothing is removed', () => {
  assert.deepEqual(decideReplicas(2, 6, fleet(6, 6, false)), { replicas: 6, waiting: true });
  assert.deepEqual(decideReplicas(2, 6, undefined), { replicas: 6, waiting: true });
});

test('the next step waits until the last one took effect (its pod is still counted idle until then)', () => {
  // Lowered 6 -> 5 a moment ago; the ReplicaSet has not marked a pod for deletion yet: 6 live pods.
  assert.deepEqual(decideReplicas(2, 5, fleet(2, 6)), { replicas: 5, waiting: true });
  assert.deepEqual(decideReplicas(2, 5, fleet(1, 5)), { replicas: 4, waiting: true });
});
