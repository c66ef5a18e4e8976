// Tracks what the caller has actually heard. Every agent chunk sent to Twilio is followed by a mark
// named by a sequence number; Twilio echoes a mark once the audio before it has played. After a
// `clear`, Twilio echoes every pending mark at once, so those echoes prove nothing and are ignored.
// A ring that starts small and doubles while more marks are pending than it holds, up to a fixed
// size: bounded memory however long the agent talks, and a few hundred bytes for most calls.

const CAPACITY = 1024;
const INITIAL = 16;

export class MarkTracker {
  #seqs = new Float64Array(INITIAL);
  #endMs = new Float64Array(INITIAL);
  #items: (string | undefined)[] = new Array(INITIAL);
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
    const cap = this.#seqs.length;
    if (cap < CAPACITY && seq - Math.max(this.#echoed, this.#clearedUpTo) > cap) this.#grow(cap * 2);
    const slot = seq % this.#seqs.length;
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
    const slot = seq % this.#seqs.length;
    if (this.#seqs[slot] === seq) {
      this.#heardItem = this.#items[slot];
      this.#heardMs = this.#endMs[slot] as number;
      const prevEnd = this.#heardItem === this.#currentItem ? this.#lastHeardEnd : 0;
      this.heardTotalMs += Math.max(0, this.#heardMs - prevEnd);
      this.#lastHeardEnd = this.#heardMs;
    }
    return true;
  }

  #grow(cap: number): void {
    const seqs = new Float64Array(cap);
    const endMs = new Float64Array(cap);
    const items: (string | undefined)[] = new Array(cap);
    const old = this.#seqs;
    for (let i = 0; i < old.length; i++) {
      const seq = old[i] as number;
      const to = seq % cap;
      if (seq > (seqs[to] as number)) {
        seqs[to] = seq;
        endMs[to] = this.#endMs[i] as number;
        items[to] = this.#items[i];
      }
    }
    this.#seqs = seqs;
    this.#endMs = endMs;
    this.#items = items;
  }

  /** Slots the ring holds now (grows with pending marks, up to 1024). */
  get capacity(): number {
    return this.#seqs.length;
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
