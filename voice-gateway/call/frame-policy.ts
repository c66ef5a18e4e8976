// Frame policing for one media stream, before anything is parsed: bytes, not frames (rule 11).
// - size by kind: only the frames before `start` (connected, start with its custom parameters) may
//   be larger than a media frame; after it every frame is capped at the media size;
// - a token bucket on inbound bytes per second and a frame-rate window;
// - the `JSON.parse` path (everything but Twilio's exact media and mark shapes) gets a nesting pre-scan and a
//   parse-time budget per second, so no single stream can take the event loop from the others.
// The per-frame cost is a few number comparisons; only the slow path reads the thread's CPU time.
import type { RawData } from 'ws';
import type { MalformedReason } from '../metrics.ts';
import type { InboundMessage } from '../twilio/media-protocol.ts';
import { parseInbound } from '../twilio/media-protocol.ts';
import { scanMark, scanMedia } from '../twilio/media-scan.ts';

export interface FrameLimits {
  /** Largest frame before `start` (connected, start). */
  startFrameBytes: number;
  /** Largest frame after `start` (media, mark, dtmf, stop). */
  mediaFrameBytes: number;
  /** Sustained inbound bytes per second; the bucket holds two seconds' worth. */
  inboundBytesPerSecond: number;
  /** Milliseconds of `JSON.parse` per second a stream may use. */
  parseBudgetMs: number;
}

/** Frames per second past which a stream's frames are dropped (Twilio sends 50 media + a few marks). */
const FRAMES_PER_SECOND = 400;
/** Deepest nesting a Twilio message has (start.customParameters / media) plus margin. */
export const MAX_JSON_DEPTH = 8;

export class FramePolicy {
  readonly #limits: FrameLimits;
  readonly #burst: number;
  readonly #perMs: number;
  #tokens: number;
  #lastAt = 0;
  #windowStart = 0;
  #windowFrames = 0;
  #parseMs = 0;
  /** The last admitted message came from the media fast path (its payload is known to be base64). */
  scanned = false;

  constructor(limits: FrameLimits) {
    this.#limits = limits;
    this.#burst = Math.max(2 * limits.inboundBytesPerSecond, limits.startFrameBytes);
    this.#perMs = limits.inboundBytesPerSecond / 1000;
    this.#tokens = this.#burst;
  }

  /**
   * The parsed message, or why the frame is dropped. `now` is performance.now(); `streamSid` the
   * stream's sid once started (a media frame carrying it reuses the string).
   */
  admit(
    data: RawData,
    isBinary: boolean,
    now: number,
    started: boolean,
    streamSid?: string,
  ): InboundMessage | MalformedReason {
    if (isBinary) return 'binary';
    const buf = data as Buffer;
    const len = buf.length;
    if (len > (started ? this.#limits.mediaFrameBytes : this.#limits.startFrameBytes)) return 'oversize';
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#lastAt) * this.#perMs);
    this.#lastAt = now;
    if (this.#tokens < len) return 'over_budget';
    this.#tokens -= len;
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#windowFrames = 0;
      this.#parseMs = 0;
    }
    if (++this.#windowFrames > FRAMES_PER_SECOND) return 'flood';
    const media = scanMedia(buf, streamSid);
    this.scanned = media !== undefined;
    if (media) return media;
    const mark = scanMark(buf, streamSid);
    if (mark) return mark;
    if (this.#parseMs >= this.#limits.parseBudgetMs) return 'cpu_budget';
    if (jsonDepthExceeds(buf, MAX_JSON_DEPTH)) return 'too_deep';
    // CPU time of this thread, not wall time: a pod descheduled mid-parse must not spend the budget
    // (a legitimate `start` dropped that way would cost the call).
    const c0 = process.threadCpuUsage();
    const msg = parseInbound(buf.toString());
    const c1 = process.threadCpuUsage();
    this.#parseMs += (c1.user - c0.user + c1.system - c0.system) / 1000;
    return 'error' in msg ? msg.error : msg;
  }
}

/** True when `buf` nests objects/arrays deeper than `max` (strings skipped); one pass, no allocation. */
export function jsonDepthExceeds(buf: Buffer, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i] as number;
    if (inString) {
      if (b === 92) i++;
      else if (b === 34) inString = false;
    } else if (b === 34) inString = true;
    else if (b === 123 || b === 91) {
      if (++depth > max) return true;
    } else if (b === 125 || b === 93) depth--;
  }
  return false;
}
