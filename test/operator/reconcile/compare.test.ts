import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSubset, needsApply, normalizeForApply } from '../../../operator/reconcile/compare.ts';

test('fields the API server adds or defaults do not count as a change', () => {
  const desired = {
    spec: {
      template: {
        spec: { hostNetwork: false, containers: [{ name: 'g', ports: [{ containerPort: 8080 }] }] },
      },
      minReadySeconds: 0,
    },
  };
  const live = {
    spec: {
      template: {
        spec: {
          containers: [{ name: 'g', ports: [{ containerPort: 8080, protocol: 'TCP' }] }],
          dnsPolicy: 'ClusterFirst',
        },
      },
    },
  };
  assert.equal(isSubset(desired, live), true);
});

test('a changed value, a missing list item or an edited field is a change', () => {
  assert.equal(isSubset({ spec: { maxReplicas: 10 } }, { spec: { maxReplicas: 99 } }), false);
  assert.equal(isSubset({ a: [1, 2] }, { a: [1] }), false);
  assert.equal(isSubset({ a: { b: 'x' } }, { a: {} }), false);
  assert.equal(isSubset({ enabled: true }, {}), false);
});

test('status is ignored and a missing live object always needs an apply', () => {
  const object = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' }, status: { x: 1 } };
  assert.equal(needsApply(object, undefined), true);
  assert.equal(
    needsApply(object, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', uid: 'u' } }),
    false,
  );
});

test('Secret stringData is compared and applied as base64 data', () => {
  const secret = normalizeForApply({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 's' },
    stringData: { url: 'postgres://x' },
  });
  assert.deepEqual((secret as { data?: unknown }).data, {
    url: Buffer.from('postgres://x').toString('base64'),
  });
  assert.equal((secret as { stringData?: unknown }).stringData, undefined);
});
