// Silence re-prompts (calls.reprompt, ADR 0019): after `afterSeconds` in which neither the caller nor
// the agent said anything, the agent is asked to re-engage, up to `maxCount` times in a row; the
// caller speaking starts the count over. After the last one the silence timeout ends the call with the
// goodbye as before.
import type { GatewayConfig } from '../config/schema.ts';

type RepromptConfig = NonNullable<GatewayConfig['calls']['reprompt']>;

/** What the backend is asked: the configured prompt, or to say the configured sentence. */
export function repromptInstruction(r: RepromptConfig): string {
  return r.say ? `Say exactly this sentence to the caller and nothing else: "${r.say}"` : r.prompt;
}

export class Reprompter {
  readonly #cfg: RepromptConfig | undefined;
  #count = 0;
  #lastAt = 0;

  constructor(cfg: RepromptConfig | undefined) {
    this.#cfg = cfg;
  }

  /** The caller spoke: the next silence gets the full series again. */
  callerSpoke(): void {
    this.#count = 0;
  }

  /** True when a re-prompt is due now; `silentSince`: the end of the last thing either side said. */
  due(now: number, silentSince: number): boolean {
    const cfg = this.#cfg;
    if (!cfg || this.#count >= cfg.maxCount) return false;
    if (now - Math.max(silentSince, this.#lastAt) < cfg.afterSeconds * 1000) return false;
    this.#count++;
    this.#lastAt = now;
    return true;
  }

  get count(): number {
    return this.#count;
  }

  get instruction(): string {
    return this.#cfg ? repromptInstruction(this.#cfg) : '';
  }
}
