import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubernetesObject } from '@kubernetes/client-node';
import { cacheSizeCollector, measureCaches, type SizedCache } from '../../../operator/runtime/cache-size.ts';

function cacheOf(count: number, kind: string): SizedCache {
  const cache = new Map<string, KubernetesObject>();
  for (let i = 0; i < count; i++) {
    const object = {
      kind,
      metadata: { name: `${kind}-${i}`, labels: { n: String(i) } },
      spec: { items: [i, i] },
    };
    cache.set(`ns/${kind}-${i}`, object);
  }
  return { kind, cache };
}

function jsonBytes({ cache }: SizedCache): number {
  let bytes = 0;
  for (const object of cache.values()) bytes += Buffer.byteLength(JSON.stringify(object));
  return bytes;
}

test('measures object count and JSON bytes per kind, two caches of one kind summed', async () => {
  const pods = cacheOf(300, 'Pod');
  const secretsA = cacheOf(20, 'Secret');
  const secretsB = cacheOf(5, 'Secret');
  const sizes = await measureCaches([pods, secretsA, secretsB]);
  assert.deepEqual(sizes.get('Pod'), { objects: 300, jsonBytes: jsonBytes(pods) });
  assert.deepEqual(sizes.get('Secret'), {
    objects: 25,
    jsonBytes: jsonBytes(secretsA) + jsonBytes(secretsB),
  });
});

test('a measurement of a large cache yields to the event loop between slices', async () => {
  const pods = cacheOf(50_000, 'Pod');
  let turns = 0;
  let done = false;
  const tick = () => {
    if (done) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  const sizes = await measureCaches([pods], 1);
  done = true;
  assert.equal(sizes.get('Pod')?.objects, 50_000);
  // Measured in one synchronous pass, the loop would not have turned once before it ended.
  assert.ok(turns >= 3, `the event loop turned ${turns} times during the measurement`);
});

test('the collector measures at most once per period and never twice at a time', async () => {
  const pods = cacheOf(1000, 'Pod');
  let lists = 0;
  const seen: number[] = [];
  const collect = cacheSizeCollector(
    () => {
      lists++;
      return [pods];
    },
    (_kind, size) => seen.push(size.objects),
    60_000,
  );
  collect();
  collect(); // while the first runs: no second measurement
  assert.equal(lists, 1);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(seen, [1000]);
  pods.cache.delete('ns/Pod-0');
  collect(); // within the period: the gauges keep the last measure
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(lists, 1);
  assert.deepEqual(seen, [1000]);

  const fresh = cacheSizeCollector(
    () => [pods],
    (_kind, size) => seen.push(size.objects),
    0,
  );
  fresh();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(seen, [1000, 999]);
});
