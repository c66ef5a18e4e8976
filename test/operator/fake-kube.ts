// An in-memory API door with the shape of operator/kube/rest.ts (get, list, watch, apply, merge patch,
// create, delete), for fast tests of the informer, the controller wiring and the reconcilers. Objects
// get resourceVersions and generations like an etcd-backed API server; watches can be made to fail
// with 410 Gone, to go silent, or to end, so the informer's recovery paths can be exercised.
import type { KubernetesObject } from '@kubernetes/client-node';
import { objectPath, resourceFor } from '../../operator/kube/resources.ts';
import { KubeError, type KubeRest, nullIfNotFound, type WatchEvent } from '../../operator/kube/rest.ts';

type Obj = KubernetesObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };

interface ParsedPath {
  groupVersion: string;
  namespace?: string;
  plural: string;
  name?: string;
  subresource?: string;
}

function parsePath(path: string): ParsedPath {
  const m =
    /^\/(?:api\/([^/]+)|apis\/([^/]+\/[^/]+))(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(
      path,
    );
  if (!m) throw new Error(`fake kube: unsupported path ${path}`);
  return {
    groupVersion: (m[1] ?? m[2]) as string,
    namespace: m[3],
    plural: m[4] as string,
    name: m[5] ? decodeURIComponent(m[5]) : undefined,
    subresource: m[6],
  };
}

interface Watcher {
  plural: string;
  namespace?: string;
  onEvent: (event: WatchEvent) => void;
  end: (error?: Error) => void;
}

export interface Call {
  verb: string;
  path: string;
  body?: unknown;
}

export class FakeKube {
  readonly objects = new Map<string, Obj>();
  readonly calls: Call[] = [];
  readonly watchers = new Set<Watcher>();
  /** Watches opened so far (the informer re-watches after failures). */
  watchCount = 0;
  #rv = 100;

  /** The fake as the operator's REST client (only the methods the operator calls exist). */
  get rest(): KubeRest {
    return this as unknown as KubeRest;
  }

  #key(plural: string, namespace: string | undefined, name: string): string {
    return `${plural}/${namespace ?? ''}/${name}`;
  }

  static pluralOf(object: KubernetesObject): string {
    return resourceFor(object.apiVersion ?? '', object.kind ?? '').plural;
  }

  /** Stores an object as if a user created it (no call recorded); watchers see ADDED or MODIFIED. */
  put(object: Obj, plural = FakeKube.pluralOf(object), options: { silent?: boolean } = {}): Obj {
    const key = this.#key(plural, object.metadata?.namespace, object.metadata?.name ?? '');
    const existing = this.objects.get(key);
    const stored = structuredClone(object);
    stored.metadata = {
      ...stored.metadata,
      uid: existing?.metadata?.uid ?? stored.metadata?.uid ?? `uid-${plural}-${stored.metadata?.name}`,
      resourceVersion: String(++this.#rv),
      generation: existing
        ? (existing.metadata?.generation ?? 1) +
          (JSON.stringify(existing.spec) === JSON.stringify(stored.spec) ? 0 : 1)
        : 1,
    };
    this.objects.set(key, stored);
    if (!options.silent) this.#emit(plural, existing ? 'MODIFIED' : 'ADDED', stored);
    return structuredClone(stored);
  }

  remove(object: Obj, plural = FakeKube.pluralOf(object)): void {
    const key = this.#key(plural, object.metadata?.namespace, object.metadata?.name ?? '');
    const existing = this.objects.get(key);
    if (!existing) return;
    this.objects.delete(key);
    this.#emit(plural, 'DELETED', {
      ...existing,
      metadata: { ...existing.metadata, resourceVersion: String(++this.#rv) },
    });
  }

  find(plural: string, namespace: string | undefined, name: string): Obj | undefined {
    const o = this.objects.get(this.#key(plural, namespace, name));
    return o ? structuredClone(o) : undefined;
  }

  list(plural: string): Obj[] {
    return [...this.objects.entries()].filter(([k]) => k.startsWith(`${plural}/`)).map(([, o]) => o);
  }

  // ---- the KubeRest surface -------------------------------------------------------------------------

  async get<T = KubernetesObject>(path: string, query?: Record<string, unknown>): Promise<T> {
    this.calls.push({ verb: 'get', path });
    if (path === '/apis') return { groups: [] } as T;
    const p = parsePath(path);
    if (!p.name) {
      const all = [...this.objects.entries()].filter(([k]) =>
        k.startsWith(`${p.plural}/${p.namespace ?? ''}`),
      );
      // Pages as the API server serves them: `limit` objects, then a continue token (here an offset).
      const from = Number(query?.continue ?? 0);
      const limit = Number(query?.limit ?? 0) || all.length;
      const items = all.slice(from, from + limit).map(([, o]) => structuredClone(o));
      const more = from + limit < all.length ? { continue: String(from + limit) } : {};
      return { metadata: { resourceVersion: String(this.#rv), ...more }, items } as T;
    }
    const o = this.find(p.plural, p.namespace, p.name);
    if (!o) throw new KubeError(404, 'NotFound', `${p.plural} "${p.name}" not found`);
    return o as T;
  }

  async getOrNull<T = KubernetesObject>(path: string): Promise<T | null> {
    return nullIfNotFound(this.get<T>(path));
  }

  async apply<T extends KubernetesObject>(object: T, _fieldManager: string): Promise<T> {
    const p = parsePath(objectPath(object));
    this.calls.push({ verb: 'apply', path: objectPath(object), body: object });
    const existing = this.find(p.plural, p.namespace, p.name ?? '');
    const merged: Obj = { ...(object as Obj) };
    // Server-side apply keeps fields others own: the status, and spec.replicas when the applier omits it.
    if (existing?.status) merged.status = existing.status;
    if (existing?.spec?.replicas !== undefined && (object as Obj).spec?.replicas === undefined)
      merged.spec = { ...(object as Obj).spec, replicas: existing.spec.replicas };
    return this.put(merged, p.plural) as unknown as T;
  }

  async mergePatch<T = KubernetesObject>(path: string, patch: unknown): Promise<T> {
    this.calls.push({ verb: 'patch', path, body: patch });
    const p = parsePath(path);
    const existing = this.find(p.plural, p.namespace, p.name ?? '');
    if (!existing) throw new KubeError(404, 'NotFound', `${p.plural} "${p.name}" not found`);
    const next = mergeDeep(existing, patch) as Obj;
    if (p.subresource === 'status') {
      // The status subresource changes only the status (and no generation).
      const stored = { ...existing, status: next.status };
      const key = this.#key(p.plural, p.namespace, p.name ?? '');
      stored.metadata = { ...existing.metadata, resourceVersion: String(++this.#rv) };
      this.objects.set(key, stored);
      this.#emit(p.plural, 'MODIFIED', stored);
      return structuredClone(stored) as T;
    }
    return this.put(next, p.plural) as T;
  }

  async jsonPatch<T = KubernetesObject>(path: string): Promise<T> {
    this.calls.push({ verb: 'patch', path });
    return (await this.get(path)) as T;
  }

  async create<T = KubernetesObject>(collection: string, body: unknown): Promise<T> {
    this.calls.push({ verb: 'create', path: collection, body });
    const p = parsePath(collection);
    const o = body as Obj;
    const name = o.metadata?.name ?? `${o.metadata?.generateName ?? 'x-'}${this.#rv + 1}`;
    if (this.find(p.plural, p.namespace, name))
      throw new KubeError(409, 'AlreadyExists', `${p.plural} "${name}" already exists`);
    return this.put({ ...o, metadata: { ...o.metadata, name, namespace: p.namespace } }, p.plural) as T;
  }

  async update<T = KubernetesObject>(path: string, body: unknown): Promise<T> {
    this.calls.push({ verb: 'update', path, body });
    return this.put(body as Obj, parsePath(path).plural) as T;
  }

  async delete(path: string): Promise<void> {
    this.calls.push({ verb: 'delete', path });
    const p = parsePath(path);
    const existing = this.find(p.plural, p.namespace, p.name ?? '');
    if (existing) this.remove(existing, p.plural);
  }

  async watch(
    path: string,
    _query: Record<string, unknown> | undefined,
    onEvent: (event: WatchEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    this.watchCount++;
    const p = parsePath(path);
    return new Promise<void>((resolve, reject) => {
      const watcher: Watcher = {
        plural: p.plural,
        namespace: p.namespace,
        onEvent,
        end: (error) => {
          this.watchers.delete(watcher);
          if (error) reject(error);
          else resolve();
        },
      };
      this.watchers.add(watcher);
      signal.addEventListener('abort', () => watcher.end(), { once: true });
    });
  }

  // ---- controls -------------------------------------------------------------------------------------

  /** Every open watch receives an ERROR event (410 Gone: its resourceVersion is too old). */
  expireWatches(): void {
    for (const w of [...this.watchers]) {
      try {
        w.onEvent({
          type: 'ERROR',
          object: { code: 410, reason: 'Expired', message: 'too old resource version' },
        });
      } catch (error) {
        w.end(error as Error); // the real client's stream rejects with what the handler threw
      }
    }
  }

  /** Calls whose verb writes (apply, patch, create, update, delete). */
  writes(): Call[] {
    return this.calls.filter((c) => c.verb !== 'get');
  }

  #emit(plural: string, type: WatchEvent['type'], object: Obj): void {
    for (const w of [...this.watchers]) {
      if (w.plural !== plural) continue;
      if (w.namespace && w.namespace !== object.metadata?.namespace) continue;
      try {
        w.onEvent({ type, object: structuredClone(object) });
      } catch (error) {
        w.end(error as Error);
      }
    }
  }
}

function mergeDeep(target: unknown, patch: unknown): unknown {
  if (patch === null) return undefined;
  if (typeof patch !== 'object' || Array.isArray(patch) || typeof target !== 'object' || target === null)
    return structuredClone(patch);
  const out: Record<string, unknown> = { ...(target as Record<string, unknown>) };
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    const merged = mergeDeep(out[k], v);
    if (merged === undefined) delete out[k];
    else out[k] = merged;
  }
  return out;
}
