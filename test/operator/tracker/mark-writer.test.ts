// One mark write per pod at a time, the latest wins: a slow API server is handed fewer writes, not
// more, when gateways repeat their notices (issue 24's retry storm at 10,000 pods).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import pino from 'pino';
import { resourceFor } from '../../../operator/kube/resources.ts';
import { Informer } from '../../../operator/runtime/informer.ts';
import { MarkWriter } from '../../../operator/tracker/mark-writer.ts';
import { FakeKube } from '../fake-kube.ts';

const log = pino({ level: 'silent' });

/** A FakeKube whose merge patches wait until `release()`: an API server that answers slowly. */
class SlowKube extends FakeKube {
  readonly #held: (() => void)[] = [];
  override async mergePatch<T = KubernetesObject>(path: string, patch: unknown): Promise<T> {
    await new Promise<void>((resolve) => this.#held.push(resolve));
    return super.mergePatch<T>(path, patch);
  }
  get held(): number {
    return this.#held.length;
  }
  release(): void {
    for (const resolve of this.#held.splice(0)) resolve();
  }
}

async function setup() {
  const kube = new SlowKube();
  for (const name of ['p-1', 'p-2'])
    kube.put({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'team' },
      status: { phase: 'Running', podIP: '127.0.0.1' },
    } as KubernetesObject);
  const pods = new Informer<V1Pod>(kube.rest, { resource: resourceFor('v1', 'Pod') }, log);
  await pods.start();
  const done: number[] = [];
  const writer = new MarkWriter({ rest: kube.rest, pods, log, onMarkDone: (s) => done.push(s) });
  const cost = (name: string) =>
    kube.find('pods', 'team', name)?.metadata?.annotations?.['controller.kubernetes.io/pod-deletion-cost'];
  const tick = () => new Promise((r) => setImmediate(r));
  return { kube, pods, writer, done, cost, tick };
}

const calls = (activeCalls: number) => ({ activeCalls, draining: false, trigger: 'notice' as const });

test('requests for a pod while its write is in flight become one write of the latest', async () => {
  const t = await setup();
  try {
    const settled: string[] = [];
    const first = t.writer.mark('team/p-1', calls(1)).then(() => settled.push('first'));
    await t.tick();
    assert.equal(t.kube.held, 1, 'the first request is written at once');
    // Five more while it is in flight (a gateway retrying, polls crossing): none is sent yet.
    const later = [2, 3, 4, 5, 6].map((n) =>
      t.writer.mark('team/p-1', calls(n)).then(() => settled.push(`${n}`)),
    );
    await t.tick();
    assert.equal(t.kube.held, 1, 'nothing more in flight for the pod');
    t.kube.release();
    await first;
    assert.deepEqual(settled, ['first'], 'the later requests wait for their own write');
    await t.tick();
    assert.equal(t.kube.held, 1, 'then one write, not five');
    t.kube.release();
    await Promise.all(later);
    assert.equal(t.cost('p-1'), '6', 'the latest request is what the pod carries');
    assert.equal(t.kube.writes().length, 2);
    assert.equal(t.done.length, 2);
  } finally {
    await t.pods.stop();
  }
});

test('another pod is not held behind a slow write', async () => {
  const t = await setup();
  try {
    void t.writer.mark('team/p-1', calls(1));
    void t.writer.mark('team/p-2', calls(1));
    await t.tick();
    assert.equal(t.kube.held, 2, 'both pods are written at once');
    t.kube.release();
  } finally {
    await t.pods.stop();
  }
});

test('a request the pod already carries costs no write; a gone pod is skipped; callers are always released', async () => {
  const t = await setup();
  try {
    const marked = t.writer.mark('team/p-1', calls(2));
    await t.tick();
    t.kube.release();
    await marked;
    await t.writer.mark('team/p-1', calls(2));
    assert.equal(t.kube.writes().length, 1, 'already marked: no second write');
    await t.writer.mark('team/nobody', calls(1));
    assert.equal(t.kube.writes().length, 1, 'a pod not in the cache is not written');
    // A write that fails is logged, and its callers are released all the same.
    const gone = t.writer.mark('team/p-2', calls(3));
    await t.tick();
    t.kube.remove(t.kube.find('pods', 'team', 'p-2') as KubernetesObject, 'pods');
    t.kube.release();
    await gone;
  } finally {
    await t.pods.stop();
  }
});
