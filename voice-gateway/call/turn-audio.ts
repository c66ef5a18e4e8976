// Caller audio of the turn the agent has not answered yet, replayed to a standby on a failover so it
// answers the question the failed backend never did (failover.ts). Bounded in bytes (the oldest audio
// goes first), with a short pre-roll so a standby's VAD hears the onset.
// Held as decoded bytes in one buffer, not as a string per frame: a call keeps 10 frames of pre-roll
// and, while the caller speaks, the whole utterance; per-frame strings living that long survived the
// young generation's collections, and the survivors made V8 grow it (ADR 0020: RSS per call 1.9× the
// echo's with strings, 1.2× without). Frames are copied in and base64-encoded only on a failover.

const PREROLL_FRAMES = 10;
/** Initial buffer: the pre-roll of 20 ms frames and room to spare (grown while the caller speaks). */
const INITIAL_BYTES = 4096;

export class TurnAudio {
  readonly #maxBytes: number;
  #buf = Buffer.allocUnsafe(INITIAL_BYTES);
  /** The held audio is `#buf[#start, #start + #len)`; frame lengths oldest first from `#first`. */
  #start = 0;
  #len = 0;
  #lens: number[] = [];
  #first = 0;
  #inTurn = false;

  /** `maxBytes`: most audio bytes held (the oldest frames go first). */
  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  get #frames(): number {
    return this.#lens.length - this.#first;
  }

  /**
   * One caller frame, `src[start, end)` (copied); `speaking`: the caller is in an utterance (speech
   * or its trailing pause).
   */
  push(src: Buffer, start: number, end: number, speaking: boolean): void {
    if (speaking) this.#inTurn = true;
    const n = Math.min(end - start, this.#maxBytes);
    if (n <= 0) return;
    this.#room(n);
    src.copy(this.#buf, this.#start + this.#len, start, start + n);
    this.#len += n;
    this.#lens.push(n);
    const limit = this.#inTurn ? Number.POSITIVE_INFINITY : PREROLL_FRAMES;
    while (this.#frames > limit || this.#len > this.#maxBytes) this.#dropOldest();
  }

  /** The agent answered (its audio reached the caller while the caller was not speaking). */
  answered(): void {
    if (!this.#inTurn && this.#frames <= PREROLL_FRAMES) return;
    this.#inTurn = false;
    this.#reset();
  }

  /** The caller said something the agent has not answered. */
  get pending(): boolean {
    return this.#inTurn;
  }

  /** The pending turn's audio, one base64 string per frame (the buffer starts over). */
  take(): string[] {
    const frames: string[] = [];
    if (this.#inTurn) {
      let at = this.#start;
      for (let i = this.#first; i < this.#lens.length; i++) {
        const n = this.#lens[i] as number;
        frames.push(this.#buf.toString('base64', at, at + n));
        at += n;
      }
    }
    this.#inTurn = false;
    this.#reset();
    return frames;
  }

  #dropOldest(): void {
    const n = this.#lens[this.#first++] as number;
    this.#start += n;
    this.#len -= n;
    if (this.#first > 64 && this.#first * 2 > this.#lens.length) {
      this.#lens = this.#lens.slice(this.#first);
      this.#first = 0;
    }
  }

  /** Makes room for `n` more bytes after the held ones: moves them to the front or grows the buffer. */
  #room(n: number): void {
    if (this.#start + this.#len + n <= this.#buf.length) return;
    const need = this.#len + n;
    if (need <= this.#buf.length) {
      this.#buf.copyWithin(0, this.#start, this.#start + this.#len);
    } else {
      // Grown while the caller speaks: at most a quarter above the bound, so moves stay rare.
      const cap = Math.max(INITIAL_BYTES, this.#maxBytes + (this.#maxBytes >> 2) + n);
      const next = Buffer.allocUnsafe(Math.min(cap, Math.max(need, this.#buf.length * 2)));
      this.#buf.copy(next, 0, this.#start, this.#start + this.#len);
      this.#buf = next;
    }
    this.#start = 0;
  }

  #reset(): void {
    this.#start = 0;
    this.#len = 0;
    this.#lens = [];
    this.#first = 0;
    if (this.#buf.length > INITIAL_BYTES) this.#buf = Buffer.allocUnsafe(INITIAL_BYTES);
  }
}
