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

export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  #tokens: number;
  #at: number;
  constructor(ratePerSecond: number, burst: number, now: number) {
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.#tokens = Math.min(1, burst);
    this.#at = now;
  }
  available(now: number, rate = this.ratePerSecond): number {
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) / 1000) * rate);
    this.#at = now;
    return this.#tokens;
  }
  take(n: number): void {
    this.#tokens -= n;
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
