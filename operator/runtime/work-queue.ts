// A rate-limited work queue: keys are deduped while waiting, one key never runs twice at once (a key
// added while it runs is run again after), failures retry with per-key exponential backoff, and at most
// `concurrency` keys run at a time.
export interface WorkQueueOptions {
  concurrency?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  onDepthChange?: (depth: number) => void;
}

export type ReconcileOutcome = undefined | { requeueAfterMs?: number };

export class WorkQueue {
  readonly #handler: (key: string) => Promise<ReconcileOutcome>;
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

  constructor(handler: (key: string) => Promise<ReconcileOutcome>, options: WorkQueueOptions = {}) {
    this.#handler = handler;
    this.#concurrency = options.concurrency ?? 4;
    this.#baseDelayMs = options.baseDelayMs ?? 250;
    this.#maxDelayMs = options.maxDelayMs ?? 5 * 60_000;
    this.#onDepthChange = options.onDepthChange;
  }

  get depth(): number {
    return this.#queue.length;
  }

  /** `urgent`: ahead of every key not urgent (a waiting key moves up). */
  add(key: string, urgent = false): void {
    if (this.#stopped) return;
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
    if (urgent) {
      this.#queue.splice(this.#urgent.size, 0, key);
      this.#urgent.add(key);
    } else this.#queue.push(key);
    this.#onDepthChange?.(this.#queue.length);
    this.#pump();
  }

  addAfter(key: string, delayMs: number): void {
    if (this.#stopped || this.#timers.has(key)) return;
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      this.add(key);
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
    this.#urgent.clear();
    await this.idle();
  }

  #pump(): void {
    while (this.#running.size < this.#concurrency && this.#queue.length > 0) {
      const key = this.#queue.shift() as string;
      this.#queued.delete(key);
      this.#urgent.delete(key);
      this.#onDepthChange?.(this.#queue.length);
      this.#running.add(key);
      void this.#process(key);
    }
    if (this.#queue.length === 0 && this.#running.size === 0) {
      for (const resolve of this.#idleWaiters.splice(0)) resolve();
    }
  }

  async #process(key: string): Promise<void> {
    let retryAfter: number | undefined;
    try {
      const outcome = await this.#handler(key);
      this.#failures.delete(key);
      if (outcome?.requeueAfterMs !== undefined) retryAfter = outcome.requeueAfterMs;
    } catch {
      const failures = (this.#failures.get(key) ?? 0) + 1;
      this.#failures.set(key, failures);
      retryAfter = Math.min(this.#baseDelayMs * 2 ** (failures - 1), this.#maxDelayMs);
    } finally {
      this.#running.delete(key);
    }
    if (this.#dirty.delete(key)) this.add(key);
    else if (retryAfter !== undefined) this.addAfter(key, retryAfter);
    this.#pump();
  }
}
