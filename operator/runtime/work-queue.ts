// A rate-limited work queue: keys are deduped while waiting, one key never runs twice at once (a key
// added while it runs is run again after), failures retry with per-key exponential backoff, and at most
// `concurrency` keys run at a time. Items may be typed (the operator queues runtime/request.ts's
// requests): `keyOf` gives the string they are de-duplicated by; callers pass and receive items.
export interface WorkQueueOptions<Item = string> {
  /** The de-duplication key of an item (default: the item itself, as a string). */
  keyOf?: (item: Item) => string;
  concurrency?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  onDepthChange?: (depth: number) => void;
}

export type ReconcileOutcome = undefined | { requeueAfterMs?: number };

export class WorkQueue<Item = string> {
  readonly #handler: (item: Item) => Promise<ReconcileOutcome>;
  readonly #keyOf: (item: Item) => string;
  /** The item of each queued key. */
  readonly #items = new Map<string, Item>();
  readonly #concurrency: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #onDepthChange?: (depth: number) => void;
  readonly #queue: string[] = [];
  readonly #queued = new Set<string>();
  /** Queued urgent keys: they are the first `size` entries of the queue. */
  readonly #urgent = new Set<string>();
  readonly #running = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #idleWaiters: (() => void)[] = [];
  #stopped = false;

  constructor(handler: (item: Item) => Promise<ReconcileOutcome>, options: WorkQueueOptions<Item> = {}) {
    this.#handler = handler;
    this.#keyOf = options.keyOf ?? String;
    this.#concurrency = options.concurrency ?? 4;
    this.#baseDelayMs = options.baseDelayMs ?? 250;
    this.#maxDelayMs = options.maxDelayMs ?? 5 * 60_000;
    this.#onDepthChange = options.onDepthChange;
  }

  get depth(): number {
    return this.#queue.length;
  }

  /** `urgent`: ahead of every key not urgent (a waiting key moves up). */
  add(item: Item, urgent = false): void {
    if (this.#stopped) return;
    const key = this.#keyOf(item);
    const timer = this.#timers.get(key);
    if (timer) {
      clearTimeout(timer);
      this.#timers.delete(key);
    }
    if (this.#running.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (this.#queued.has(key)) {
      if (!urgent || this.#urgent.has(key)) return;
      this.#queue.splice(this.#queue.indexOf(key), 1);
    }
    this.#queued.add(key);
    this.#items.set(key, item);
    if (urgent) {
      this.#queue.splice(this.#urgent.size, 0, key);
      this.#urgent.add(key);
    } else this.#queue.push(key);
    this.#onDepthChange?.(this.#queue.length);
    this.#pump();
  }

  addAfter(item: Item, delayMs: number): void {
    const key = this.#keyOf(item);
    if (this.#stopped || this.#timers.has(key)) return;
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      this.add(item);
    }, delayMs);
    timer.unref();
    this.#timers.set(key, timer);
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.#queue.length === 0 && this.#running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops taking work and waits for the running keys to finish. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#queue.length = 0;
    this.#queued.clear();
    this.#items.clear();
    this.#urgent.clear();
    await this.idle();
  }

  #pump(): void {
    while (this.#running.size < this.#concurrency && this.#queue.length > 0) {
      const key = this.#queue.shift() as string;
      const item = this.#items.get(key) as Item;
      this.#items.delete(key);
      this.#queued.delete(key);
      this.#urgent.delete(key);
      this.#onDepthChange?.(this.#queue.length);
      this.#running.add(key);
      void this.#process(key, item);
    }
    if (this.#queue.length === 0 && this.#running.size === 0) {
      for (const resolve of this.#idleWaiters.splice(0)) resolve();
    }
  }

  async #process(key: string, item: Item): Promise<void> {
    let retryAfter: number | undefined;
    try {
      const outcome = await this.#handler(item);
      this.#failures.delete(key);
      if (outcome?.requeueAfterMs !== undefined) retryAfter = outcome.requeueAfterMs;
    } catch {
      const failures = (this.#failures.get(key) ?? 0) + 1;
      this.#failures.set(key, failures);
      retryAfter = Math.min(this.#baseDelayMs * 2 ** (failures - 1), this.#maxDelayMs);
    } finally {
      this.#running.delete(key);
    }
    if (this.#dirty.delete(key)) this.add(item);
    else if (retryAfter !== undefined) this.addAfter(item, retryAfter);
    this.#pump();
  }
}
