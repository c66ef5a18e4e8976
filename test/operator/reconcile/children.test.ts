import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { KubernetesObject } from '@kubernetes/client-node';
import { applyChildren, CREATE_ONLY_ANNOTATION } from '../../../operator/reconcile/children.ts';
import { harness } from './harness.ts';

const h = await harness();
after(() => h.stop());

const password = (value: string): KubernetesObject & { data: Record<string, string> } => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'db-password', namespace: 'team', annotations: { [CREATE_ONLY_ANNOTATION]: 'true' } },
  data: { password: Buffer.from(value).toString('base64') },
});
const writes = () => h.kube.calls.filter((c) => c.verb !== 'get' && c.verb !== 'list' && c.verb !== 'watch');

test('a create-only child is created once, without a read first, and never overwritten', async () => {
  h.kube.calls.length = 0;
  const first = await applyChildren(h.ctx.rest, h.ctx.caches, [password('first')]);
  assert.equal(first.writes, 1);
  assert.deepEqual(
    h.kube.calls.map((c) => c.verb),
    ['create'],
    'one create, no GET before it',
  );

  // Not in the cache yet (the watch has not delivered it): the create answers 409 and the object is read.
  h.kube.calls.length = 0;
  const again = await applyChildren(h.ctx.rest, h.ctx.caches, [password('second')]);
  assert.equal(again.writes, 0);
  const live = [...again.live.values()][0] as ReturnType<typeof password>;
  assert.equal(Buffer.from(live.data.password ?? '', 'base64').toString(), 'first');

  // In the cache: nothing is sent at all.
  await h.settle();
  h.kube.calls.length = 0;
  await applyChildren(h.ctx.rest, h.ctx.caches, [password('third')]);
  assert.deepEqual(writes(), []);
  assert.equal(h.kube.calls.length, 0);
});
