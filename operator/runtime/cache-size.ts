// What the informer caches hold, by kind: object count and JSON size (after the cache transforms),
// the measure the operator's memory is judged against (issue 24). JSON.stringify of every cached
// object is not free (at 10,000 pods, 33 MB of JSON: a few hundred ms of CPU), so the size is
// measured at most once per `maxAgeMs`, in slices of a few ms that let notices and marks through.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { KubernetesObject } from '@kubernetes/client-node';

export interface CacheSize {
  objects: number;
  jsonBytes: number;
}

export interface SizedCache {
  kind: string;
  cache: Map<string, KubernetesObject>;
}

/** CPU time one slice of a measurement may take before it yields to the event loop. */
const SLICE_MS = 4;

/**
 * Measures every cached object, yielding to the event loop whenever a slice has taken `sliceMs`.
 * Objects added or removed meanwhile are counted or not as the cache's iterator meets them.
 */
export async function measureCaches(
  caches: SizedCache[],
  sliceMs = SLICE_MS,
): Promise<Map<string, CacheSize>> {
  const sizes = new Map<string, CacheSize>();
  let sliceStart = performance.now();
  for (const { kind, cache } of caches) {
    const size = sizes.get(kind) ?? { objects: 0, jsonBytes: 0 };
    sizes.set(kind, size);
    for (const object of cache.values()) {
      size.objects++;
      size.jsonBytes += Buffer.byteLength(JSON.stringify(object));
      if (performance.now() - sliceStart >= sliceMs) {
        await nextTurn();
        sliceStart = performance.now();
      }
    }
  }
  return sizes;
}

/**
 * Keeps gauges of the caches' sizes. A scrape starts a new measurement when the last one started more
 * than `maxAgeMs` ago; the gauges take its result when it is done (the scrape shows the previous one).
 */
export function cacheSizeCollector(
  caches: () => SizedCache[],
  set: (kind: string, size: CacheSize) => void,
  maxAgeMs = 60_000,
): () => void {
  let startedAt = Number.NEGATIVE_INFINITY;
  let measuring = false;
  return () => {
    const now = performance.now();
    if (measuring || now - startedAt < maxAgeMs) return;
    startedAt = now;
    measuring = true;
    measureCaches(caches())
      .then((sizes) => {
        for (const [kind, size] of sizes) set(kind, size);
      })
      .catch(() => undefined)
      .finally(() => {
        measuring = false;
      });
  };
}
