// Count-only status changes are paced (issue 24), and call counts follow --call-status-refresh.
// While a VoiceAgent's pods come up one by one, only numbers change: `readyReplicas`, the "3/10 gateway pods available" message of a condition. Writing
// each cost about six status patches per VoiceAgent during a rollout, competing with the rollout
// itself for the API server. A change of that kind alone is written at most once per window per
// object (the first at once, the last when the window ends); a condition changing status or reason, a
// new generation or any other field is written at once, with the counts of that moment.
// Call counts (`activeCalls`, busy and draining pods) change with every call: a change of them alone is
// written at once, at most every N ms, or never on its own (`--call-status-refresh off`: call churn
// then writes pod marks only, and the counts go with the next status change of any other kind).
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
  /** The longest window asked about: an entry is swept only once no window can still hold it. */
  #longestWindow: number;

  constructor(windowMs = COUNT_WINDOW_MS, now: () => number = () => performance.now()) {
    this.windowMs = windowMs;
    this.#longestWindow = windowMs;
    this.#now = now;
  }

  /** Milliseconds until a change of `uid` paced by `windowMs` (default: the count window) may be written (0: now). */
  waitFor(uid: string, windowMs = this.windowMs): number {
    this.#longestWindow = Math.max(this.#longestWindow, windowMs);
    const last = this.#lastWrite.get(uid);
    return last === undefined ? 0 : Math.max(0, last + windowMs - this.#now());
  }

  /** The status of `uid` was just written (any change: the counts went with it). */
  wrote(uid: string): void {
    const now = this.#now();
    this.#lastWrite.set(uid, now);
    if (++this.#writes % SWEEP_EVERY !== 0) return;
    for (const [k, at] of this.#lastWrite) if (at + this.#longestWindow <= now) this.#lastWrite.delete(k);
  }

  /** Entries held (tests: the sweep bounds them). */
  get size(): number {
    return this.#lastWrite.size;
  }
}

/**
 * What a status change touches, for pacing: 'other' when a field beyond `counts` and `calls` changed,
 * or a condition its status, reason or observedGeneration; 'counts' when a `counts` field or a condition
 * message changed (call counts may go with them); 'calls' when only `calls` fields did.
 */
export type StatusChange = 'other' | 'counts' | 'calls';

export function classifyStatusChange(
  previous: Record<string, unknown>,
  next: Record<string, unknown>,
  counts: ReadonlySet<string>,
  calls: ReadonlySet<string>,
  same: (a: unknown, b: unknown) => boolean,
): StatusChange {
  let countsChanged = false;
  let callsChanged = false;
  for (const key of Object.keys(next)) {
    if (key === 'conditions' || same(previous[key], next[key])) continue;
    if (counts.has(key)) countsChanged = true;
    else if (calls.has(key)) callsChanged = true;
    else return 'other';
  }
  const before = (previous.conditions as Condition[] | undefined) ?? [];
  const after = (next.conditions as Condition[] | undefined) ?? [];
  if (before.length !== after.length) return 'other';
  for (const c of after) {
    const b = before.find((x) => x.type === c.type);
    if (
      b === undefined ||
      b.status !== c.status ||
      b.reason !== c.reason ||
      b.observedGeneration !== c.observedGeneration
    )
      return 'other';
    if (!same(b, c)) countsChanged = true;
  }
  return callsChanged && !countsChanged ? 'calls' : 'counts';
}
