// An in-memory queue of writes that must not be lost to a database restart: each item is retried with
// exponential backoff (with jitter, capped) until it succeeds, fails permanently, or the queue is
// closed. It is bounded: past `maxPending` new items are dropped and counted, so an outage can cost
// records but never the pod's memory. Callers never wait on it (the audio path only enqueues); writes
// must be idempotent because a write that timed out may still have committed.
import { within } from '../../lib/deadline.ts';
import { MemoryMetrics } from '../metrics.ts';

/** Thrown by a writer for an item that can never succeed (bad data): it is dropped, not retried. */
export class PermanentWriteError extends Error {}

export interface WriteQueueOptions {
  maxPending?: number;
  concurrency?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  onError?: (error: unknown, attempt: number) => void;
  /** Where drops, retries and the backlog are counted (default: prom-client's default registry). */
  metrics?: MemoryMetrics;
}

interface Entry<T> {
  item: T;
  attempt: number;
  readyAt: number;
}

export class WriteQueue<T> {
  readonly #write: (item: T) => Promise<void>;
  readonly #maxPending: number;
  readonly #concurrency: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #onError: (error: unknown, attempt: number) => void;
  #waiting: Entry<T>[] = [];
  #active = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #idleWaiters: (() => void)[] = [];
  readonly #metrics: MemoryMetrics;

  constructor(write: (item: T) => Promise<void>, options: WriteQueueOptions = {}) {
    this.#write = write;
    this.#maxPending = options.maxPending ?? 10_000;
    this.#concurrency = options.concurrency ?? 2;
    this.#baseDelayMs = options.baseDelayMs ?? 200;
    this.#maxDelayMs = options.maxDelayMs ?? 30_000;
    this.#onError = options.onError ?? (() => {});
    this.#metrics = options.metrics ?? MemoryMetrics.on();
  }

  get pending(): number {
    return this.#waiting.length + this.#active;
  }

  /** Queues an item; returns false (and counts it) when the queue is full or closed. */
  push(item: T): boolean {
    if (this.#closed || this.pending >= this.#maxPending) {
      this.#metrics.writesDropped.inc({ reason: this.#closed ? 'closed' : 'queue_full' });
      return false;
    }
    this.#waiting.push({ item, attempt: 0, readyAt: 0 });
    this.#metrics.pendingWrites.inc();
    this.#pump();
    return true;
  }

  /** Resolves when everything queued is written, or at the deadline (whichever comes first). */
  async flush(deadlineMs: number): Promise<void> {
    if (this.pending === 0) return;
    // A flush means "now": items waiting out a backoff are retried immediately.
    for (const entry of this.#waiting) entry.readyAt = 0;
    this.#pump();
    const idle = new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    await within(idle, deadlineMs, () => undefined);
  }

  /** Stops retrying; whatever is still pending is dropped (flush first). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    if (this.#waiting.length > 0) this.#metrics.writesDropped.inc({ reason: 'closed' }, this.#waiting.length);
    this.#metrics.pendingWrites.dec(this.#waiting.length);
    this.#waiting = [];
    this.#notifyIfIdle();
  }

  #pump(): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const now = Date.now();
    while (this.#active < this.#concurrency) {
      const index = this.#waiting.findIndex((e) => e.readyAt <= now);
      if (index < 0) break;
      const [entry] = this.#waiting.splice(index, 1);
      if (entry) void this.#run(entry);
    }
    if (this.#waiting.length > 0 && this.#active < this.#concurrency) {
      const next = Math.min(...this.#waiting.map((e) => e.readyAt));
      this.#timer = setTimeout(() => this.#pump(), Math.max(1, next - now));
      this.#timer.unref();
    }
  }

  async #run(entry: Entry<T>): Promise<void> {
    this.#active += 1;
    let done = true;
    try {
      await this.#write(entry.item);
    } catch (error) {
      if (error instanceof PermanentWriteError) {
        this.#metrics.writesDropped.inc({ reason: 'invalid' });
        this.#onError(error, entry.attempt);
      } else if (!this.#closed) {
        done = false;
        entry.attempt += 1;
        const backoff = Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** (entry.attempt - 1));
        entry.readyAt = Date.now() + backoff / 2 + Math.random() * (backoff / 2);
        this.#metrics.writeRetries.inc();
        this.#onError(error, entry.attempt);
        this.#waiting.push(entry);
      }
    } finally {
      this.#active -= 1;
      if (done) this.#metrics.pendingWrites.dec();
      this.#pump();
      this.#notifyIfIdle();
    }
  }

  #notifyIfIdle(): void {
    if (this.pending > 0 && !this.#closed) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
