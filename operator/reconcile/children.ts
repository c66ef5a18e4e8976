// Apply the rendered children of one custom resource and prune the ones no longer rendered.
import type { KubernetesObject } from '@kubernetes/client-node';
import { collectionPath, objectKey, objectPath, resourceFor } from '../kube/resources.ts';
import { KubeError, type KubeRest } from '../kube/rest.ts';
import type { Informer } from '../runtime/informer.ts';
import { forEachLimited } from '../runtime/limit.ts';
import { needsApply, normalizeForApply } from './compare.ts';

export const FIELD_MANAGER = 'callfleet-operator';
export const CREATE_ONLY_ANNOTATION = 'callfleet.io/create-only';

/** Informer caches of the child kinds, keyed by `apiVersion/kind`. */
export type ChildCaches = Map<string, Informer>;

export function cacheKey(object: KubernetesObject): string {
  return `${object.apiVersion}/${object.kind}`;
}

export function liveChild(caches: ChildCaches, object: KubernetesObject): KubernetesObject | undefined {
  return caches.get(cacheKey(object))?.get(objectKey(object));
}

export interface ApplyResult {
  /** The objects as the API server returned them after apply (or the cached live one when unchanged). */
  live: Map<string, KubernetesObject>;
  writes: number;
  /** `Kind/name` of every object written. */
  written: string[];
  /** Kinds whose CRD is not installed (e.g. ServiceMonitor without the Prometheus Operator). */
  missingKinds: string[];
}

/**
 * Children of one custom resource are applied all at once (the API server needs no order): a reconcile
 * costs one round trip of applies, not one per few children (issue 24).
 */
const APPLY_CONCURRENCY = 32;

export async function applyChildren(
  rest: KubeRest,
  caches: ChildCaches,
  desired: KubernetesObject[],
): Promise<ApplyResult> {
  const result: ApplyResult = { live: new Map(), writes: 0, written: [], missingKinds: [] };
  const applyOne = async (raw: KubernetesObject) => {
    const object = normalizeForApply(raw);
    const live = liveChild(caches, object);
    const key = `${cacheKey(object)}/${objectKey(object)}`;
    const createOnly = object.metadata?.annotations?.[CREATE_ONLY_ANNOTATION] === 'true';
    if (live && (createOnly || !needsApply(object, live))) {
      result.live.set(key, live);
      return;
    }
    try {
      // Never overwrite a create-only object (e.g. a generated password): the cache does not have it, so
      // it is created; one the cache has not seen yet is already there (409) and is read, not written.
      const written = createOnly
        ? await createUnlessPresent(rest, object)
        : await rest.apply(object, FIELD_MANAGER);
      if (!written) return void result.live.set(key, await rest.get(objectPath(object)));
      caches.get(cacheKey(object))?.update(written);
      result.live.set(key, written);
      result.writes++;
      result.written.push(`${object.kind}/${object.metadata?.name}`);
    } catch (error) {
      if (error instanceof KubeError && error.status === 404 && !caches.has(cacheKey(object))) {
        result.missingKinds.push(`${object.kind} (${object.apiVersion})`);
        return;
      }
      throw error;
    }
  };
  await forEachLimited(desired, APPLY_CONCURRENCY, applyOne);
  return result;
}

async function createUnlessPresent(
  rest: KubeRest,
  object: KubernetesObject,
): Promise<KubernetesObject | undefined> {
  const collection = collectionPath(
    resourceFor(object.apiVersion ?? '', object.kind ?? ''),
    object.metadata?.namespace,
  );
  try {
    return await rest.create<KubernetesObject>(collection, object, FIELD_MANAGER);
  } catch (error) {
    if (error instanceof KubeError && error.status === 409) return undefined;
    throw error;
  }
}

/** Deletes children owned by `ownerUid` that are not in `desired`. */
export async function pruneChildren(
  rest: KubeRest,
  caches: ChildCaches,
  ownerUid: string,
  desired: KubernetesObject[],
  keep: (object: KubernetesObject) => boolean = () => false,
): Promise<number> {
  const wanted = new Set(desired.map((o) => `${cacheKey(o)}/${objectKey(o)}`));
  let deleted = 0;
  for (const informer of caches.values()) {
    for (const object of informer.ownedBy(ownerUid)) {
      if (wanted.has(`${cacheKey(object)}/${objectKey(object)}`) || keep(object)) continue;
      if (object.metadata?.deletionTimestamp) continue;
      await rest.delete(objectPath(object));
      deleted++;
    }
  }
  return deleted;
}
