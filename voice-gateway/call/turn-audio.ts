// Caller audio of the turn the agent has not answered yet, replayed to a standby on a failover so it
// answers the question the failed backend never did (failover.ts). Bounded in bytes (the oldest audio
// goes first), with a short pre-roll so a standby's VAD hears the onset.
// Held as decoded bytes in 2 KiB blocks shared by all calls of the process, not as a string per
// frame: a call keeps 10 frames of pre-roll and, while the caller speaks, the whole utterance. Strings
// (or buffers) living that long survived the young generation's collections and made V8 grow it, and
// per-call buffers grown for a turn were garbage after it (ADR 0020: RSS per call 1.9× the echo's
// with strings). Blocks go back to a free list when the turn is answered; frames are base64-encoded
// only on a failover. A call holds none of it when its agent has no standby (nowhere to replay it).

const PREROLL_FRAMES = 10;
const BLOCK_BYTES = 2048;
/** Spare blocks kept for reuse, process-wide (8 MiB at most); beyond that they are left to the GC. */
const MAX_FREE_BLOCKS = 4096;
const freeBlocks: Buffer[] = [];
let blocksHeld = 0;

function takeBlock(): Buffer {
  blocksHeld++;
  return freeBlocks.pop() ?? Buffer.allocUnsafeSlow(BLOCK_BYTES);
}

function giveBlock(b: Buffer): void {
  blocksHeld--;
  if (freeBlocks.length < MAX_FREE_BLOCKS) freeBlocks.push(b);
}

/** Blocks holding some call's turn audio now, process-wide. */
export function turnAudioBlocksHeld(): number {
  return blocksHeld;
}

export class TurnAudio {
  readonly #maxBytes: number;
  /** The held audio starts at `#head` in the first block and ends at `#tail` in the last one. */
  #blocks: Buffer[] = [];
  #head = 0;
  #tail = BLOCK_BYTES;
  #len = 0;
  /** Frame lengths, oldest first from `#first`. */
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
    for (let at = start; at < start + n; ) {
      if (this.#tail === BLOCK_BYTES) {
        this.#blocks.push(takeBlock());
        this.#tail = 0;
      }
      const k = Math.min(start + n - at, BLOCK_BYTES - this.#tail);
      src.copy(this.#blocks[this.#blocks.length - 1] as Buffer, this.#tail, at, at + k);
      this.#tail += k;
      at += k;
    }
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
      let block = 0;
      let at = this.#head;
      for (let i = this.#first; i < this.#lens.length; i++) {
        const frame = Buffer.allocUnsafe(this.#lens[i] as number);
        for (let filled = 0; filled < frame.length; ) {
          if (at === BLOCK_BYTES) {
            block++;
            at = 0;
          }
          const k = Math.min(frame.length - filled, BLOCK_BYTES - at);
          (this.#blocks[block] as Buffer).copy(frame, filled, at, at + k);
          filled += k;
          at += k;
        }
        frames.push(frame.toString('base64'));
      }
    }
    this.#inTurn = false;
    this.#reset();
    return frames;
  }

  /** Gives the call's blocks back (the call ended). */
  close(): void {
    this.#inTurn = false;
    this.#reset();
  }

  #dropOldest(): void {
    const n = this.#lens[this.#first++] as number;
    this.#len -= n;
    this.#head += n;
    while (this.#head >= BLOCK_BYTES && this.#blocks.length > 1) {
      giveBlock(this.#blocks.shift() as Buffer);
      this.#head -= BLOCK_BYTES;
    }
    if (this.#len === 0) this.#reset();
    else if (this.#first > 64 && this.#first * 2 > this.#lens.length) {
      this.#lens = this.#lens.slice(this.#first);
      this.#first = 0;
    }
  }

  #reset(): void {
    for (const b of this.#blocks) giveBlock(b);
    this.#blocks = [];
    this.#head = 0;
    this.#tail = BLOCK_BYTES;
    this.#len = 0;
    this.#lens = [];
    this.#first = 0;
  }
}
