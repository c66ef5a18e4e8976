// How many calls the dialer may place now: the lowest of the campaign's concurrency left, the fleet's
// free slots beyond the inbound headroom, and a token bucket at callsPerSecond (halved while the recent
// failure rate is above the threshold). Pure: the dialer passes in what it observed.

export interface FleetSlots {
  /** Call slots of the ready, non-draining gateway pods. */
  capacity: number;
  /** Live calls the pods reported at their last poll (inbound and outbound). */
  active: number;
  /** Every pod was polled recently; false = unknown capacity, dial nothing. */
  fresh: boolean;
}

export interface Budget {
  allowed: number;
  reason: 'ok' | 'concurrency' | 'fleet-full' | 'fleet-unknown' | 'rate';
}

/**
 * `live` = this campaign's attempts not yet finished (recorded, sent, ringing, in progress);
 * `otherLive` = live attempts of other campaigns on the same fleet; `liveAtPoll` = the campaigns' live
 * answered calls when the pods were last polled (the rest of `active` is inbound).
 */
export function budget(o: {
  maxConcurrent: number;
  headroom: number;
  live: number;
  otherLive: number;
  liveAtPoll: number;
  fleet: FleetSlots;
  tokens: number;
}): Budget {
  if (!o.fleet.fresh || o.fleet.capacity === 0) return { allowed: 0, reason: 'fleet-unknown' };
  const byConcurrency = o.maxConcurrent - o.live;
  const inbound = Math.max(0, o.fleet.active - o.liveAtPoll);
  const byFleet = o.fleet.capacity - o.headroom - inbound - o.live - o.otherLive;
  const allowed = Math.max(0, Math.min(byConcurrency, byFleet, Math.floor(o.tokens)));
  if (allowed > 0) return { allowed, reason: 'ok' };
  if (byConcurrency <= 0) return { allowed: 0, reason: 'concurrency' };
  if (byFleet <= 0) return { allowed: 0, reason: 'fleet-full' };
  return { allowed: 0, reason: 'rate' };
}

/**
 * At most `rate` calls in any window of one second (for rates below 1/s: one call per 1/rate seconds).
 * A sliding window, not a bucket with a burst: "calls per second" holds for every second.
 */
export class RateLimiter {
  readonly #sent: number[] = [];

  available(now: number, rate: number): number {
    const windowMs = Math.max(1000, 1000 / rate);
    const limit = Math.max(1, Math.floor((rate * windowMs) / 1000));
    while (this.#sent.length && (this.#sent[0] as number) <= now - windowMs) this.#sent.shift();
    return Math.max(0, limit - this.#sent.length);
  }

  take(now: number): void {
    this.#sent.push(now);
  }
}

/** Outcomes of the last `size` finished attempts; above the threshold the rate is halved. */
export class FailureWindow {
  readonly size: number;
  readonly #recent: boolean[] = [];
  constructor(size = 50) {
    this.size = size;
  }
  push(failed: boolean): void {
    this.#recent.push(failed);
    if (this.#recent.length > this.size) this.#recent.shift();
  }
  rate(): number {
    if (this.#recent.length < 10) return 0;
    return this.#recent.filter(Boolean).length / this.#recent.length;
  }
}
