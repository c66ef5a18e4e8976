// Whether this pod carries a call, as an edge: live calls (streams whose credential was accepted) plus
// calls the voice webhook answered whose stream has not started yet (a first call is "on" the pod from
// the moment its TwiML is sent). Edges (idle → busy, busy → idle, draining) are reported at once to
// the operator; `retire` is the atomic "agree to be removed only while idle" (ADR 0021).
export interface PresenceState {
  activeCalls: number;
  connectingCalls: number;
  draining: boolean;
}

export interface PresenceOptions {
  liveCalls(): number;
  /** SIGTERM drain under way. */
  draining(): boolean;
  /** A webhook-answered call whose stream never starts stops counting after this long. */
  connectWindowMs: number;
  /** At most this many connecting calls are remembered (oldest dropped): bounded however many webhooks come. */
  maxConnecting: number;
  onEdge(state: PresenceState): void;
  now?(): number;
}

export class CallPresence {
  readonly #o: PresenceOptions;
  readonly #connecting = new Map<string, NodeJS.Timeout>();
  #retiredUntil = 0;
  #retireTimer: NodeJS.Timeout | undefined;
  #last: { busy: boolean; draining: boolean } = { busy: false, draining: false };

  constructor(o: PresenceOptions) {
    this.#o = o;
  }

  #now(): number {
    return this.#o.now?.() ?? Date.now();
  }

  get connectingCalls(): number {
    return this.#connecting.size;
  }

  get busy(): boolean {
    return this.#o.liveCalls() > 0 || this.#connecting.size > 0;
  }

  /** Retired (agreed to be removed) and not yet given back by its ttl. */
  get retired(): boolean {
    return this.#retiredUntil > this.#now();
  }

  state(): PresenceState {
    return {
      activeCalls: this.#o.liveCalls(),
      connectingCalls: this.#connecting.size,
      draining: this.#o.draining() || this.retired,
    };
  }

  /** The voice webhook answered a call with a stream: the pod is busy from now on. */
  connecting(callSid: string): void {
    clearTimeout(this.#connecting.get(callSid));
    if (this.#connecting.size >= this.#o.maxConnecting) {
      const [oldest, timer] = this.#connecting.entries().next().value ?? [];
      clearTimeout(timer);
      if (oldest !== undefined) this.#connecting.delete(oldest);
    }
    const timer = setTimeout(() => {
      this.#connecting.delete(callSid);
      this.changed();
    }, this.#o.connectWindowMs);
    timer.unref();
    this.#connecting.set(callSid, timer);
    this.changed();
  }

  /** The call's stream started (it now counts as a live call). */
  started(callSid: string): void {
    clearTimeout(this.#connecting.get(callSid));
    this.#connecting.delete(callSid);
    this.changed();
  }

  /**
   * The operator asks to remove this pod. Single-threaded, so atomic with the voice webhook: either a
   * call came first (refused: the pod stays) or the pod takes no call from now on (readiness 503, the
   * fallback) until `ttlMs` passes without the pod being terminated.
   */
  retire(ttlMs: number): boolean {
    if (this.busy || this.#o.draining()) return this.#o.draining() && !this.busy;
    this.#retiredUntil = this.#now() + ttlMs;
    clearTimeout(this.#retireTimer);
    this.#retireTimer = setTimeout(() => this.changed(), ttlMs + 1);
    this.#retireTimer.unref();
    this.changed();
    return true;
  }

  /** Re-evaluates the edges (call started or ended, drain began). */
  changed(): void {
    const next = { busy: this.busy, draining: this.#o.draining() || this.retired };
    if (next.busy === this.#last.busy && next.draining === this.#last.draining) return;
    this.#last = next;
    this.#o.onEdge(this.state());
  }

  close(): void {
    for (const timer of this.#connecting.values()) clearTimeout(timer);
    this.#connecting.clear();
    clearTimeout(this.#retireTimer);
  }
}
