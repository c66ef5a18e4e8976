// Caller audio towards the agent backend in chunks of N Twilio frames (`calls.uplinkChunkMs`,
// ADR 0020). Twilio sends one 20 ms frame per message; the backend protocols accept any length, so
// two frames per backend message halve the sends, wake-ups and TCP segments on the backend socket
// for 20 ms more on the way in (invisible against a response budget of seconds).
// - Every frame is decoded once, straight into the chunk (the speech detector reads it there), and
//   the chunk is base64-encoded once when it leaves. A frame that fills a chunk on its own (20 ms
//   chunks, or an oversized frame) leaves as the untouched string Twilio sent.
// - Bounded in bytes (the chunk's buffer: chunkMs of audio or one largest frame) and in time: a held
//   frame waits at most `uplinkChunkMs - 20 + HOLD_SLACK_MS` ms plus one sweep period when the next
//   frame is late. The shared sweep below flushes a chunk whose frames stopped coming; it runs on the
//   frames themselves (any call's frame sweeps when SWEEP_MS has passed, so a busy pod needs no
//   timer wake-ups for it) and on a slower backstop timer for a pod whose frames all stopped. Steady
//   Twilio frames complete a chunk before the sweep finds it due: the sweep is the time bound, not
//   the way chunks leave.
// - Nothing per frame but the decode, a few number comparisons and, per chunk, one encode and one
//   send: no timer, closure or collection operation per frame or per chunk.
// - `flush()` sends what is held now: the session calls it on a DTMF, a mark, speech onset (a
//   barge-in), the backend's interruption, the end of the stream, a hand-off, and before a backend
//   is replaced (failover).

/** `calls.uplinkChunkMs`: bounds and default, shared by the gateway config and the VoiceAgent API. */
export const UPLINK_CHUNK_MS = { choices: [20, 40], min: 20, max: 40, default: 40 } as const;
/** Twilio's frame: 20 ms of 8 kHz mu-law. */
export const FRAME_MS = 20;
const BYTES_PER_MS = 8;
/** How much later than one frame period a held frame may leave when the next frame is late. */
export const HOLD_SLACK_MS = 5;
/** Period of the shared sweep run by arriving frames. */
export const SWEEP_MS = 5;
/** Period of the backstop timer (a pod none of whose calls sends frames). */
export const BACKSTOP_MS = 25;

/** Where a chunk goes: returns false when the backend dropped it (backpressure). */
export interface UplinkTarget {
  sendUplink(payloadB64: string, frames: number): boolean;
}

export class UplinkChunker {
  readonly #target: UplinkTarget;
  readonly #chunkBytes: number;
  readonly #buf: Buffer;
  /** Longest time the first held frame waits before the sweep sends it. */
  readonly holdMs: number;
  #len = 0;
  #frames = 0;
  /** performance.now() when the first held frame arrived (0: nothing held). */
  #firstAt = 0;
  /** The last frame's own base64 string when it is the only thing held (sent as is). */
  #solo: string | undefined;
  #swept = false;

  /** `maxFrameBytes`: the largest decoded frame accepted (the media frame limit bounds it). */
  constructor(target: UplinkTarget, chunkMs: number, maxFrameBytes: number) {
    this.#target = target;
    this.#chunkBytes = Math.max(1, chunkMs * BYTES_PER_MS);
    this.#buf = Buffer.allocUnsafe(Math.max(this.#chunkBytes, maxFrameBytes));
    this.holdMs = Math.max(0, chunkMs - FRAME_MS) + HOLD_SLACK_MS;
  }

  /** Bytes of audio held now. */
  get heldBytes(): number {
    return this.#len;
  }

  get heldFrames(): number {
    return this.#frames;
  }

  /**
   * Decodes one base64 frame into the chunk and returns where it landed (`start`; its length is
   * `heldBytes - start` until `release()`), for the speech detector. Call `release()` next: it sends
   * the chunk once it is full. A frame larger than `maxFrameBytes` is cut to it.
   */
  add(payloadB64: string, now: number): number {
    if (now - lastSweepAt >= SWEEP_MS) sweepAll(now);
    const max = (payloadB64.length >> 2) * 3;
    if (this.#len > 0 && this.#len + max > this.#buf.length) this.flush();
    const start = this.#len;
    this.#len += this.#buf.write(payloadB64, start, 'base64');
    this.#solo = start === 0 ? payloadB64 : undefined;
    this.#frames++;
    if (start === 0) {
      this.#firstAt = now;
      if (!this.#swept && this.#len < this.#chunkBytes) {
        this.#swept = true;
        sweep(this);
      }
    }
    return start;
  }

  /** The held audio, for reading the frame `add` just decoded (`buffer[start..heldBytes)`). */
  get buffer(): Buffer {
    return this.#buf;
  }

  /** Sends the chunk when it is full. */
  release(): void {
    if (this.#len >= this.#chunkBytes) this.flush();
  }

  /** Sends whatever is held now (nothing held: nothing sent). */
  flush(): void {
    const n = this.#len;
    if (n === 0) return;
    const frames = this.#frames;
    const solo = this.#solo;
    this.#len = 0;
    this.#frames = 0;
    this.#firstAt = 0;
    this.#solo = undefined;
    this.#target.sendUplink(solo ?? this.#buf.toString('base64', 0, n), frames);
  }

  /**
   * The call is over: `flush` sends what is held (the backend is still there), else it is dropped.
   * Either way the chunker leaves the sweep.
   */
  close(flush: boolean): void {
    if (flush) this.flush();
    this.#len = 0;
    this.#frames = 0;
    this.#firstAt = 0;
    this.#solo = undefined;
    if (this.#swept) {
      this.#swept = false;
      swept.delete(this);
    }
  }

  /** Flushes when the first held frame has waited `holdMs`. */
  due(now: number): void {
    if (this.#len > 0 && now - this.#firstAt >= this.holdMs) this.flush();
  }
}

// ---- the shared sweep: one timer per process while any call that held audio is open ---------------

const swept = new Set<UplinkChunker>();
let timer: NodeJS.Timeout | undefined;
let lastSweepAt = 0;

function sweepAll(now: number): void {
  lastSweepAt = now;
  for (const s of swept) s.due(now);
}

function sweep(c: UplinkChunker): void {
  swept.add(c);
  if (timer) return;
  timer = setInterval(() => {
    const now = performance.now();
    if (now - lastSweepAt >= SWEEP_MS) sweepAll(now);
    if (swept.size === 0) {
      clearInterval(timer);
      timer = undefined;
    }
  }, BACKSTOP_MS);
  timer.unref();
}

/** Open calls in the sweep (tests: an ended call leaves it). */
export function sweptChunkers(): number {
  return swept.size;
}
