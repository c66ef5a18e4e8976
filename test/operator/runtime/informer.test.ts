// The informer on the in-memory API door: a 410 relists (and sees what changed meanwhile), a silent
// watch is restarted by the watchdog, and a write-through is never replaced by an older watch event.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubernetesObject } from '@kubernetes/client-node';
import pino from 'pino';
import { resourceFor } from '../../../operator/kube/resources.ts';
import { Informer, type InformerEvent, LIST_PAGE_SIZE } from '../../../operator/runtime/informer.ts';
import { waitFor } from '../../support/processes.ts';
import { FakeKube } from '../fake-kube.ts';

const log = pino({ level: 'silent' });
const cm = (name: string, data: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'ns' },
  data,
});

function start(kube: FakeKube, options: { watchdogMs?: number; restarts?: string[] } = {}) {
  const events: [InformerEvent, string][] = [];
  const informer = new Informer<KubernetesObject>(
    kube.rest,
    {
      resource: resourceFor('v1', 'ConfigMap'),
      watchdogMs: options.watchdogMs ?? 60_000,
      onWatchRestart: (reason) => options.restarts?.push(reason),
    },
    log,
  );
  informer.on((event, object) => events.push([event, object.metadata?.name ?? '']));
  return { informer, events };
}

test('410 Gone: the informer relists and catches up with what changed while its watch was stale', async () => {
  const kube = new FakeKube();
  kube.put(cm('a'));
  const restarts: string[] = [];
  const { informer, events } = start(kube, { restarts });
  await informer.start();
  await waitFor('the watch', async () => kube.watchers.size === 1, 2000, 5);
  assert.deepEqual(events, [['added', 'a']]);
  // Changes the watch never delivered (the server compacted past them) ...
  kube.put(cm('b'), undefined, { silent: true });
  kube.objects.delete('configmaps/ns/a');
  // ... and then the watch expires.
  kube.expireWatches();
  await waitFor('the relist', async () => informer.cache.has('ns/b') && !informer.cache.has('ns/a'), 2000, 5);
  assert.deepEqual(restarts, ['gone']);
  assert.deepEqual(events.slice(1), [
    ['added', 'b'],
    ['deleted', 'a'],
  ]);
  await waitFor('a new watch', async () => kube.watchers.size === 1, 2000, 5);
  await informer.stop();
});

test('a relist reads pages of LIST_PAGE_SIZE and applies them as one list (deletions seen across pages)', async () => {
  const kube = new FakeKube();
  const n = 2 * LIST_PAGE_SIZE + 7;
  for (let i = 0; i < n; i++) kube.put(cm(`cm-${String(i).padStart(5, '0')}`));
  const { informer, events } = start(kube);
  const lists = () => kube.calls.filter((c) => c.verb === 'get' && c.path.endsWith('/configmaps')).length;
  await informer.start();
  assert.equal(lists(), 3, 'three pages');
  assert.equal(informer.cache.size, n);
  assert.equal(events.length, n);
  // One object gone from the last page and one from the first while the watch was stale: the relist sees both.
  kube.objects.delete(`configmaps/ns/cm-${String(n - 1).padStart(5, '0')}`);
  kube.objects.delete('configmaps/ns/cm-00000');
  kube.expireWatches();
  await waitFor('the relist', async () => informer.cache.size === n - 2, 2000, 5);
  assert.equal(lists(), 6);
  assert.deepEqual(
    events.filter(([e]) => e === 'deleted').map(([, name]) => name),
    ['cm-00000', `cm-${String(n - 1).padStart(5, '0')}`],
  );
  await informer.stop();
});

test('a silent watch is restarted by the watchdog, and events flow again', async () => {
  const kube = new FakeKube();
  const restarts: string[] = [];
  const { informer } = start(kube, { watchdogMs: 60, restarts });
  await informer.start();
  await waitFor(
    'two watchdog restarts',
    async () => restarts.filter((r) => r === 'watchdog').length >= 2,
    3000,
    5,
  );
  assert.ok(kube.watchCount >= 3, `re-watched (${kube.watchCount} watches)`);
  kube.put(cm('late'));
  await waitFor('the event on the new watch', async () => informer.cache.has('ns/late'), 2000, 5);
  await informer.stop();
});

test('write-through: an older watch event never replaces the object the operator just wrote', async () => {
  const kube = new FakeKube();
  const { informer } = start(kube);
  await informer.start();
  await waitFor('the watch', async () => kube.watchers.size === 1, 2000, 5);
  const v1 = kube.put(cm('x', { v: '1' }), undefined, { silent: true });
  const v2 = kube.put(cm('x', { v: '2' }), undefined, { silent: true });
  informer.update(v2);
  // The watch now delivers the older version late: the cache keeps v2.
  for (const w of kube.watchers) w.onEvent({ type: 'MODIFIED', object: v1 });
  assert.equal((informer.get('ns/x') as { data?: { v?: string } }).data?.v, '2');
  // An older write-through is ignored too; a newer event replaces.
  informer.update(v1);
  assert.equal((informer.get('ns/x') as { data?: { v?: string } }).data?.v, '2');
  const v3 = kube.put(cm('x', { v: '3' }));
  await waitFor(
    'v3',
    async () => informer.get('ns/x')?.metadata?.resourceVersion === v3.metadata?.resourceVersion,
    2000,
    5,
  );
  await informer.stop();
});

test('write-through tells the handlers once, as written, with the version it replaced', async () => {
  const kube = new FakeKube();
  const { informer } = start(kube);
  await informer.start();
  await waitFor('the watch', async () => kube.watchers.size === 1, 2000, 5);
  const events: string[] = [];
  informer.on((event, object, previous) =>
    events.push(`${event} ${object.metadata?.resourceVersion} ${previous?.metadata?.resourceVersion}`),
  );
  const v1 = kube.put(cm('w', { v: '1' }), undefined, { silent: true });
  const v2 = kube.put(cm('w', { v: '2' }), undefined, { silent: true });
  informer.update(v1);
  informer.update(v2);
  informer.update(v2); // the same version again: nothing new
  informer.update(v1); // older: ignored
  // Its watch echo is dropped: the cache holds that version already.
  for (const w of kube.watchers) w.onEvent({ type: 'MODIFIED', object: v2 });
  const [r1, r2] = [v1.metadata?.resourceVersion, v2.metadata?.resourceVersion];
  assert.deepEqual(events, [`written ${r1} undefined`, `written ${r2} ${r1}`]);
  await informer.stop();
});

test('a transform keeps only what the cache needs (a Secret: its keys, never the values)', async () => {
  const { secretKeysOnly } = await import('../../../operator/reconcile/secret-refs.ts');
  const kube = new FakeKube();
  kube.put({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 's', namespace: 'ns' },
    data: { token: Buffer.from('hunter2').toString('base64') },
  } as KubernetesObject);
  const informer = new Informer(
    kube.rest,
    { resource: resourceFor('v1', 'Secret'), transform: secretKeysOnly },
    log,
  );
  await informer.start();
  assert.deepEqual((informer.get('ns/s') as { data?: Record<string, string> }).data, { token: '' });
  assert.ok(
    !JSON.stringify([...informer.cache.values()]).includes(Buffer.from('hunter2').toString('base64')),
  );
  await informer.stop();
});

test('the resync replays every cached object from the cache, spread over the period, never listing again', async () => {
  const kube = new FakeKube();
  for (let i = 0; i < 30; i++) kube.put(cm(`cm-${i}`));
  const informer = new Informer<KubernetesObject>(
    kube.rest,
    { resource: resourceFor('v1', 'ConfigMap'), resyncMs: 3000 },
    log,
  );
  const resyncs: { name: string; at: number }[] = [];
  informer.on((event, object) => {
    if (event === 'resync') resyncs.push({ name: object.metadata?.name ?? '', at: performance.now() });
  });
  await informer.start();
  const t0 = performance.now();
  const lists = () => kube.calls.filter((c) => c.verb === 'get').length;
  const listsAtStart = lists();
  await waitFor('one resync period', async () => resyncs.length >= 30, 5000, 50);
  assert.equal(lists(), listsAtStart, 'no list from the API server');
  assert.deepEqual(
    resyncs.map((r) => r.name).sort(),
    Array.from({ length: 30 }, (_, i) => `cm-${i}`).sort(),
    'every object once',
  );
  // Three ticks a second apart: ten objects each, not thirty at once.
  const ticks: number[] = [];
  resyncs.forEach((r, i) => {
    if (i === 0 || r.at - (resyncs[i - 1]?.at ?? 0) > 500) ticks.push(1);
    else ticks[ticks.length - 1] = (ticks.at(-1) ?? 0) + 1;
  });
  assert.deepEqual(ticks, [10, 10, 10]);
  assert.ok((resyncs[0]?.at ?? 0) - t0 > 900, 'the first share one tick after the start');
  await informer.stop();
});
