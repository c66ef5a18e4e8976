// A list-watch cache for one kind (in all namespaces, or in a list of them: one watch each). Watches in @kubernetes/client-node stall silently and stop on
// errors, so this one is self-healing: bookmarks keep the resourceVersion fresh, a watchdog restarts
// a silent watch, 410 Gone triggers a relist, other errors back off and retry. The periodic resync
// hands every cached object to the handlers again, from the cache and spread evenly over the period
// (ADR 0021): as client-go's resync, it never lists from the API server, and at 1,000 VoiceAgents it
// is a few reconciles a second rather than a thousand at once.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { collectionPath, objectKey, type ResourceType } from '../kube/resources.ts';
import { KubeError, type KubeRest, type WatchEvent } from '../kube/rest.ts';

/**
 * `written`: the operator's own write, put into the cache by `update()` (its watch echo is then dropped).
 * Mappings that requeue the written object or its owner ignore it; mappings that wake other objects
 * waiting on this one (a VoiceAgent on its MemoryStore's Ready) must not, or nobody would ever be told.
 */
export type InformerEvent = 'added' | 'updated' | 'deleted' | 'resync' | 'written';
/** `previous` is the cached version an update replaced, when there was one. */
export type InformerHandler<T> = (event: InformerEvent, object: T, previous?: T) => void;

export interface InformerOptions {
  resource: ResourceType;
  /** Watch only these namespaces (default: all). */
  namespaces?: string[];
  labelSelector?: string;
  /** Resync period: every cached object is handed to the handlers again as 'resync', spread over it. */
  resyncMs?: number;
  /** A watch that delivers nothing (not even a bookmark) for this long is restarted. */
  watchdogMs?: number;
  onWatchRestart?: (reason: string) => void;
  /** Keeps only what the cache needs of each object (e.g. a Secret's keys, never its values). */
  transform?: (object: KubernetesObject) => KubernetesObject;
}

/** One list-watch: all namespaces (namespace undefined) or one namespace. */
interface Stream {
  namespace?: string;
  resourceVersion?: string;
  abort?: AbortController;
  loop?: Promise<void>;
}

interface ListResponse<T> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

/**
 * Objects per list request. A relist of 10,000 pods holds one page's JSON at a time (about 2 MB),
 * not the whole list's (the start's and a 410's peak at fleet scale); every page comes from one snapshot.
 */
export const LIST_PAGE_SIZE = 500;

/** How often a slice of the resync is handed out: each tick replays its share of the period's keys. */
const RESYNC_TICK_MS = 1000;

export class Informer<T extends KubernetesObject = KubernetesObject> {
  readonly cache = new Map<string, T>();
  readonly #rest: KubeRest;
  readonly #options: Required<
    Omit<InformerOptions, 'namespaces' | 'labelSelector' | 'onWatchRestart' | 'transform'>
  > &
    InformerOptions;
  readonly #streams: Stream[];
  readonly #wakers = new Set<() => void>();
  readonly #handlers: InformerHandler<T>[] = [];
  readonly #log: Logger;
  #stopped = false;
  #resyncTimer: NodeJS.Timeout | undefined;
  /** The keys this resync period still has to replay (taken from the cache when a period starts). */
  #resyncKeys: string[] = [];
  #resyncAt = 0;
  /** Ticks into the current resync period. */
  #resyncTick = 0;

  constructor(rest: KubeRest, options: InformerOptions, log: Logger) {
    this.#rest = rest;
    this.#options = {
      ...options,
      resyncMs: options.resyncMs ?? 5 * 60_000,
      watchdogMs: options.watchdogMs ?? 90_000,
    };
    this.#log = log.child({ informer: options.resource.kind });
    const scoped = options.resource.namespaced && options.namespaces?.length;
    this.#streams = scoped ? (options.namespaces ?? []).map((namespace) => ({ namespace })) : [{}];
  }

  /** Keys of cached objects by the uid of each owner they name: a reconcile's prune reads its own. */
  readonly #byOwner = new Map<string, Set<string>>();

  #store(key: string, object: T): void {
    const old = this.cache.get(key);
    if (old) this.#unindex(key, old);
    this.cache.set(key, object);
    for (const ref of object.metadata?.ownerReferences ?? []) {
      let keys = this.#byOwner.get(ref.uid);
      if (!keys) {
        keys = new Set();
        this.#byOwner.set(ref.uid, keys);
      }
      keys.add(key);
    }
  }

  #remove(key: string): void {
    const old = this.cache.get(key);
    if (old) this.#unindex(key, old);
    this.cache.delete(key);
  }

  #unindex(key: string, object: T): void {
    for (const ref of object.metadata?.ownerReferences ?? []) {
      const keys = this.#byOwner.get(ref.uid);
      keys?.delete(key);
      if (keys?.size === 0) this.#byOwner.delete(ref.uid);
    }
  }

  /** Cached objects with an owner reference to `uid`. */
  ownedBy(uid: string): T[] {
    const owned: T[] = [];
    for (const key of this.#byOwner.get(uid) ?? []) {
      const object = this.cache.get(key);
      if (object) owned.push(object);
    }
    return owned;
  }

  get kind(): string {
    return this.#options.resource.kind;
  }

  on(handler: InformerHandler<T>): void {
    this.#handlers.push(handler);
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(filter?: (object: T) => boolean): T[] {
    const all = [...this.cache.values()];
    return filter ? all.filter(filter) : all;
  }

  /**
   * Write-through: puts the object the API server just returned into the cache, so the next reconcile
   * does not act on the state from before its own write. Older versions never replace newer ones.
   */
  update(written: T): void {
    const transform = this.#options.transform;
    const object = (transform ? transform(written) : written) as T;
    object.apiVersion ??= this.#options.resource.apiVersion;
    object.kind ??= this.#options.resource.kind;
    const key = objectKey(object);
    const cached = this.cache.get(key);
    if (isOlder(object, cached)) return;
    this.#store(key, object);
    if (cached?.metadata?.resourceVersion !== object.metadata?.resourceVersion) {
      this.#emit('written', object, cached);
    }
  }

  /** Lists once (the cache is synced when this resolves), then keeps watching in the background. */
  async start(): Promise<void> {
    // The first list may fail while the API server warms up (e.g. "storage is (re)initializing" for a
    // fresh CRD): retry rather than give up.
    for (const stream of this.#streams) {
      for (let backoffMs = 250; ; backoffMs = Math.min(backoffMs * 2, 10_000)) {
        try {
          await this.#relist(stream);
          break;
        } catch (error) {
          if (this.#stopped) return;
          this.#log.warn({ err: String(error) }, 'initial list failed; retrying');
          await this.#sleep(backoffMs);
        }
      }
    }
    for (const stream of this.#streams) stream.loop = this.#run(stream);
    this.#resyncTimer = setInterval(
      () => this.#resyncSlice(),
      Math.min(RESYNC_TICK_MS, this.#options.resyncMs),
    );
    this.#resyncTimer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#resyncTimer);
    for (const stream of this.#streams) stream.abort?.abort();
    for (const wake of this.#wakers) wake();
    await Promise.all(this.#streams.map((s) => s.loop));
  }

  /** Replays this tick's share of the period's keys (objects deleted meanwhile are skipped). */
  #resyncSlice(): void {
    const ticks = Math.max(1, Math.round(this.#options.resyncMs / RESYNC_TICK_MS));
    if (this.#resyncTick === 0) {
      this.#resyncKeys = [...this.cache.keys()];
      this.#resyncAt = 0;
    }
    this.#resyncTick++;
    const end = Math.ceil((this.#resyncKeys.length * this.#resyncTick) / ticks);
    for (; this.#resyncAt < end; this.#resyncAt++) {
      const object = this.cache.get(this.#resyncKeys[this.#resyncAt] as string);
      if (object) this.#emit('resync', object);
    }
    if (this.#resyncTick >= ticks) this.#resyncTick = 0;
  }

  #path(stream: Stream): string {
    return collectionPath(this.#options.resource, stream.namespace);
  }

  async #run(stream: Stream): Promise<void> {
    let backoffMs = 500;
    while (!this.#stopped) {
      try {
        if (!stream.resourceVersion) await this.#relist(stream);
        await this.#watchOnce(stream);
        backoffMs = 500;
      } catch (error) {
        if (this.#stopped) break;
        if (error instanceof KubeError && error.status === 410) {
          stream.resourceVersion = undefined;
          this.#options.onWatchRestart?.('gone');
          continue;
        }
        this.#options.onWatchRestart?.('error');
        this.#log.warn({ err: String(error) }, 'watch failed; retrying');
        await this.#sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, 30_000);
      }
    }
  }

  async #relist(stream: Stream): Promise<void> {
    const transform = this.#options.transform;
    // Pages are read (and each object cut down by the transform) before any is applied, so handlers
    // see the whole list at once, as from one request.
    const items: T[] = [];
    let resourceVersion: string | undefined;
    let page: string | undefined;
    do {
      const list: ListResponse<T> = await this.#rest.get<ListResponse<T>>(this.#path(stream), {
        labelSelector: this.#options.labelSelector,
        limit: LIST_PAGE_SIZE,
        continue: page,
      });
      for (const raw of list.items) items.push((transform ? transform(raw) : raw) as T);
      resourceVersion = list.metadata.resourceVersion;
      page = list.metadata.continue || undefined;
    } while (page);
    const seen = new Set<string>();
    const isResync = this.cache.size > 0 || stream.resourceVersion === undefined;
    for (const item of items) {
      item.apiVersion ??= this.#options.resource.apiVersion;
      item.kind ??= this.#options.resource.kind;
      const key = objectKey(item);
      seen.add(key);
      const old = this.cache.get(key);
      this.#store(key, item);
      if (!old) this.#emit('added', item);
      else if (old.metadata?.resourceVersion !== item.metadata?.resourceVersion)
        this.#emit('updated', item, old);
      else if (isResync) this.#emit('resync', item);
    }
    for (const [key, old] of this.cache) {
      const inScope = stream.namespace === undefined || old.metadata?.namespace === stream.namespace;
      if (inScope && !seen.has(key)) {
        this.#remove(key);
        this.#emit('deleted', old);
      }
    }
    stream.resourceVersion = resourceVersion;
  }

  async #watchOnce(stream: Stream): Promise<void> {
    const abort = new AbortController();
    stream.abort = abort;
    let watchdog: NodeJS.Timeout | undefined;
    const pet = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        this.#options.onWatchRestart?.('watchdog');
        this.#log.warn('watch silent too long; restarting');
        abort.abort('watchdog');
      }, this.#options.watchdogMs);
    };
    pet();
    try {
      await this.#rest.watch(
        this.#path(stream),
        {
          labelSelector: this.#options.labelSelector,
          resourceVersion: stream.resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds: 240 + Math.floor(Math.random() * 120),
        },
        (event) => {
          pet();
          this.#apply(stream, event);
        },
        abort.signal,
      );
    } catch (error) {
      if (!abort.signal.aborted) throw error;
    } finally {
      clearTimeout(watchdog);
    }
  }

  #apply(stream: Stream, event: WatchEvent): void {
    if (event.type === 'ERROR') {
      const code = event.object.code ?? 500;
      throw new KubeError(code, event.object.reason ?? '', event.object.message ?? 'watch error');
    }
    const transform = this.#options.transform;
    const object = (transform ? transform(event.object) : event.object) as T;
    if (object.metadata?.resourceVersion) stream.resourceVersion = object.metadata.resourceVersion;
    if (event.type === 'BOOKMARK') return;
    object.apiVersion ??= this.#options.resource.apiVersion;
    object.kind ??= this.#options.resource.kind;
    const key = objectKey(object);
    if (event.type === 'DELETED') {
      this.#remove(key);
      this.#emit('deleted', object);
      return;
    }
    const cached = this.cache.get(key);
    // A write-through already holds a newer version: this event is old news.
    if (isOlder(object, cached)) return;
    // The echo of the operator's own write, already in the cache: nothing changed, nobody is told.
    if (cached && cached.metadata?.resourceVersion === object.metadata?.resourceVersion) return;
    const existed = cached !== undefined;
    this.#store(key, object);
    this.#emit(existed ? 'updated' : 'added', object, cached);
  }

  /** A backoff pause that stop() cuts short. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#wakers.add(wake);
    });
  }

  #emit(event: InformerEvent, object: T, previous?: T): void {
    for (const handler of this.#handlers) handler(event, object, previous);
  }
}

/**
 * resourceVersions are opaque, but every API server backed by etcd hands out increasing integers; only
 * then are two versions compared.
 */
function isOlder(object: KubernetesObject, than: KubernetesObject | undefined): boolean {
  const a = object.metadata?.resourceVersion;
  const b = than?.metadata?.resourceVersion;
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return false;
  return BigInt(a) < BigInt(b);
}
