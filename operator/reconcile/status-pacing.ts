// Count-only status changes are paced (issue 24). While a VoiceAgent's pods come up one by one, only
// numbers change: `readyReplicas`, the "3/10 gateway pods available" message of a condition. Writing
// each cost about six status patches per VoiceAgent during a rollout, competing with the rollout
// itself for the API server. A change of that kind alone is written at most once per window per
// object (the first at once, the last when the window ends); a condition changing status or reason, a
// new generation or any other field is written at once, with the counts of that moment.
import type { Condition } from './conditions.ts';

/** How often a count-only change of one object may be written. */
export const COUNT_WINDOW_MS = 5000;
/** Expired entries are swept after this many writes (the map stays as large as the recent writers). */
const SWEEP_EVERY = 1024;

export class StatusPacer {
  readonly windowMs: number;
  readonly #now: () => number;
  /** uid → when its status was last written. */
  readonly #lastWrite = new Map<string, number>();
  #writes = 0;

  constructor(windowMs = COUNT_WINDOW_MS, now: () => number = () => performance.now()) {
    this.windowMs = windowMs;
    this.#now = now;
  }

  /** Milliseconds until a count-only change of `uid` may be written (0: now). */
  waitFor(uid: string): number {
    const last = this.#lastWrite.get(uid);
    return last === undefined ? 0 : Math.max(0, last + this.windowMs - this.#now());
  }

  /** The status of `uid` was just written (any change: the counts went with it). */
  wrote(uid: string): void {
    const now = this.#now();
    this.#lastWrite.set(uid, now);
    if (++this.#writes % SWEEP_EVERY !== 0) return;
    for (const [k, at] of this.#lastWrite) if (at + this.windowMs <= now) this.#lastWrite.delete(k);
  }

  /** Entries held (tests: the sweep bounds them). */
  get size(): number {
    return this.#lastWrite.size;
  }
}

/**
 * True when `next` differs from `previous` only in `counts` fields and in condition messages: every
 * other field is equal, and every condition keeps its status, reason and observedGeneration.
 */
export function onlyCountsChanged(
  previous: Record<string, unknown>,
  next: Record<string, unknown>,
  counts: ReadonlySet<string>,
  same: (a: unknown, b: unknown) => boolean,
): boolean {
  for (const key of Object.keys(next)) {
    if (key === 'conditions' || counts.has(key)) continue;
    if (!same(previous[key], next[key])) return false;
  }
  const before = (previous.conditions as Condition[] | undefined) ?? [];
  const after = (next.conditions as Condition[] | undefined) ?? [];
  if (before.length !== after.length) return false;
  return after.every((c) => {
    const b = before.find((x) => x.type === c.type);
    return (
      b !== undefined &&
      b.status === c.status &&
      b.reason === c.reason &&
      b.observedGeneration === c.observedGeneration
    );
  });
}
