// Tracks what the caller has actually heard. Every agent chunk sent to Twilio is followed by a mark
// named by a sequence number; Twilio echoes a mark once the audio before it has played. After a
// `clear`, Twilio echoes every pending mark at once, so those echoes prove nothing and are ignored.
// Fixed-size ring: bounded memory however long the agent talks.

const CAPACITY = 1024;

export class MarkTracker {
  readonly #seqs = new Float64Array(CAPACITY);
  readonly #endMs = new Float64Array(CAPACITY);
  readonly #items: (string | undefined)[] = new Array(CAPACITY);
  #sent = 0;
  #echoed = 0;
  #clearedUpTo = 0;
  #currentItem: string | undefined;
  #currentItemMs = 0;
  #heardItem: string | undefined;
  #heardMs = 0;
  /** Total ms of agent audio confirmed played. */
  heardTotalMs = 0;
  #lastHeardEnd = 0;

  /** Records a sent chunk of `ms` of audio for `item`; returns the mark name to send after it. */
  sent(item: string | undefined, ms: number): string {
    if (item !== this.#currentItem) {
      this.#currentItem = item;
      this.#currentItemMs = 0;
    }
    this.#currentItemMs += ms;
    const seq = ++this.#sent;
    const slot = seq % CAPACITY;
    this.#seqs[slot] = seq;
    this.#endMs[slot] = this.#currentItemMs;
    this.#items[slot] = item;
    return `${seq}`;
  }

  /** Handles an echoed mark; returns false for names we never sent. */
  echoed(name: string): boolean {
    const seq = Number(name);
    if (!Number.isInteger(seq) || seq < 1 || seq > this.#sent) return false;
    if (seq <= this.#clearedUpTo || seq <= this.#echoed) return true;
    this.#echoed = seq;
    const slot = seq % CAPACITY;
    if (this.#seqs[slot] === seq) {
      this.#heardItem = this.#items[slot];
      this.#heardMs = this.#endMs[slot] as number;
      const prevEnd = this.#heardItem === this.#currentItem ? this.#lastHeardEnd : 0;
      this.heardTotalMs += Math.max(0, this.#heardMs - prevEnd);
      this.#lastHeardEnd = this.#heardMs;
    }
    return true;
  }

  /** True while agent audio sent to Twilio has not been confirmed played. */
  get pending(): boolean {
    return this.#sent > Math.max(this.#echoed, this.#clearedUpTo);
  }

  get currentItem(): string | undefined {
    return this.#currentItem;
  }

  get currentItemSentMs(): number {
    return this.#currentItemMs;
  }

  /** How much of `item` the caller has heard (0 when none of it was confirmed). */
  playedMs(item: string | undefined): number {
    return item !== undefined && item === this.#heardItem ? this.#heardMs : 0;
  }

  /** Twilio's buffer was cleared: the marks still pending will echo but were not heard. */
  cleared(): void {
    this.#clearedUpTo = this.#sent;
    this.#currentItem = undefined;
    this.#currentItemMs = 0;
  }
}
