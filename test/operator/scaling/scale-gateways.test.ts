// A scale write goes through to the Deployment cache with the API server's answer: the next reconcile's
// apply states the count from that cache (reconcile/voiceagent.ts), so a stale count there would undo it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import pino from 'pino';
import type { ReconcileContext } from '../../../operator/reconcile/context.ts';
import { scaleGateways } from '../../../operator/scaling/scale-gateways.ts';

test('a scale write updates the cached Deployment at once, with the resourceVersion the API server gave', async () => {
  const deployment: V1Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'echo', namespace: 'team', resourceVersion: '41' },
    spec: { replicas: 3, selector: {}, template: {} },
  };
  const patches: { path: string; body: unknown }[] = [];
  const cached: KubernetesObject[] = [];
  const ctx = {
    rest: {
      mergePatch: async (path: string, body: unknown) => {
        patches.push({ path, body });
        return { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { resourceVersion: '42' } };
      },
    },
    caches: new Map([['apps/v1/Deployment', { update: (o: KubernetesObject) => cached.push(o) }]]),
  } as unknown as ReconcileContext;

  const decision = await scaleGateways(
    ctx,
    'team',
    'echo',
    deployment,
    5,
    undefined,
    pino({ level: 'silent' }),
  );
  assert.equal(decision.replicas, 5);
  assert.equal(decision.rescaled, true);
  assert.deepEqual(patches, [
    { path: '/apis/apps/v1/namespaces/team/deployments/echo/scale', body: { spec: { replicas: 5 } } },
  ]);
  assert.equal(cached.length, 1);
  assert.equal((cached[0] as V1Deployment).spec?.replicas, 5);
  assert.equal(cached[0]?.metadata?.resourceVersion, '42');

  // The same count again: no write, nothing cached.
  const again = await scaleGateways(
    ctx,
    'team',
    'echo',
    cached[0] as V1Deployment,
    5,
    undefined,
    pino({ level: 'silent' }),
  );
  assert.equal(again.rescaled, false);
  assert.equal(patches.length, 1);
  assert.equal(cached.length, 1);
});
