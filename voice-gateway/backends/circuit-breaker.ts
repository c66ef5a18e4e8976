// Per-backend circuit breaker: `threshold` consecutive failures open it for `openMs`; after that one
// trial call is let through (half-open); its success closes the circuit, its failure re-opens it.

export type CircuitState = 'closed' | 'open' | 'half-open';

export class CircuitBreaker {
  readonly #threshold: number;
  readonly #openMs: number;
  readonly #onChange: (open: boolean) => void;
  #failures = 0;
  #openedAt = 0;
  #state: CircuitState = 'closed';
  #trialInFlight = false;

  constructor(threshold: number, openMs: number, onChange: (open: boolean) => void = () => {}) {
    this.#threshold = threshold;
    this.#openMs = openMs;
    this.#onChange = onChange;
  }

  get state(): CircuitState {
    if (this.#state === 'open' && Date.now() - this.#openedAt >= this.#openMs) this.#state = 'half-open';
    return this.#state;
  }

  /** True when a call may try the backend (no state change: use for webhook decisions). */
  get allowsCalls(): boolean {
    const s = this.state;
    return s === 'closed' || (s === 'half-open' && !this.#trialInFlight);
  }

  /** Claims permission to try the backend; in half-open only one trial at a time. */
  tryAcquire(): boolean {
    const s = this.state;
    if (s === 'closed') return true;
    if (s === 'half-open' && !this.#trialInFlight) {
      this.#trialInFlight = true;
      return true;
    }
    return false;
  }

  success(): void {
    this.#trialInFlight = false;
    this.#failures = 0;
    if (this.#state !== 'closed') {
      this.#state = 'closed';
      this.#onChange(false);
    }
  }

  failure(): void {
    this.#trialInFlight = false;
    this.#failures++;
    if (this.#state === 'half-open' || (this.#state === 'closed' && this.#failures >= this.#threshold)) {
      this.#state = 'open';
      this.#openedAt = Date.now();
      this.#onChange(true);
    }
  }
}
