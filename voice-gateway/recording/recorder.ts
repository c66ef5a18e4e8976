// Call recording as a tap beside the audio path: the session hands it each caller frame (already
// decoded) and each agent chunk it relays; nothing here is awaited by the session and nothing grows
// with the call's length.
//
// Timing: the caller's media stream is the clock (Twilio sends a frame every 20 ms, speech or not).
// Agent audio goes into a bounded queue — a model of Twilio's playback buffer: it is played from as
// caller frames arrive and emptied on `clear` (barge-in), like Twilio does — so the right channel is
// what the caller heard, when they heard it. Each caller frame of n samples yields n stereo samples.
//
// Bytes: stereo mu-law is 16 kB/s; it is sealed in 64 KiB segments (storage/sealed.ts) and streamed to
// the bucket as multipart parts (storage/multipart.ts). A recorder holds at most the agent queue, one
// segment and two parts; a pod-wide budget caps all recorders together. Past any bound the audio is
// dropped and counted, never waited for.
import { within } from '../lib/deadline.ts';
import type { Keyring } from '../memory/crypto.ts';
import type { Bucket } from '../storage/bucket.ts';
import { MultipartWriter } from '../storage/multipart.ts';
import { Sealer } from '../storage/sealed.ts';
import type { RecordingIndex } from './index-store.ts';
import { MULAW_SILENCE, SAMPLE_RATE, streamingWavHeader } from './wav.ts';

export interface RecordingTap {
  /** n mu-law bytes of caller audio (the buffer is reused by the caller after this returns). */
  caller(frame: Buffer, n: number): void;
  /** A base64 mu-law chunk the gateway relayed to the caller. */
  agent(payload: string): void;
  /** Twilio was told to clear its playback buffer (barge-in). */
  clear(): void;
  /** The stream ended; the recording is completed in the background. */
  close(): void;
}

export interface RecorderCounters {
  started: number;
  completed: number;
  failed: number;
  droppedBytes: number;
  storedBytes: number;
}

export interface RecordingOptions {
  bucket: Bucket;
  index: RecordingIndex;
  keyring: Keyring;
  retentionDays: number;
  /** Agent audio held ahead of playback, in bytes of mu-law (8000 per second). */
  agentQueueBytes: number;
  /** All recorders of the pod together may hold this many bytes; beyond it audio is dropped. */
  maxBufferBytes: number;
  partBytes?: number;
  onError?: (what: string, error: Error) => void;
}

export function recordingKey(bucket: Bucket, callSid: string, streamSid: string): string {
  return bucket.key(`recordings/${callSid}/${streamSid}.wav.sealed`);
}

export function recordingPurpose(streamSid: string): string {
  return `recording:${streamSid}`;
}

/** The pod's recorders: opens one tap per call and keeps the shared byte budget. */
export class Recordings {
  readonly #o: RecordingOptions;
  readonly #active = new Set<CallRecorder>();
  readonly counters: RecorderCounters = {
    started: 0,
    completed: 0,
    failed: 0,
    droppedBytes: 0,
    storedBytes: 0,
  };
  readonly #closing = new Set<Promise<void>>();

  constructor(options: RecordingOptions) {
    this.#o = options;
  }

  get options(): RecordingOptions {
    return this.#o;
  }

  bufferedBytes(): number {
    let sum = 0;
    for (const r of this.#active) sum += r.bufferedBytes;
    return sum;
  }

  open(call: { callSid: string; streamSid: string; from: string }): RecordingTap {
    const r = new CallRecorder(this, call);
    this.#active.add(r);
    this.counters.started++;
    return r;
  }

  /** @internal */
  ended(r: CallRecorder, done: Promise<void>): void {
    this.#active.delete(r);
    this.#closing.add(done);
    void done.finally(() => this.#closing.delete(done));
  }

  /** Waits for recordings being completed (drain), up to the deadline. */
  async flush(deadlineMs: number): Promise<void> {
    const pending = [...this.#closing];
    if (pending.length === 0) return;
    await within(Promise.allSettled(pending), deadlineMs - Date.now(), () => undefined);
  }
}

class CallRecorder implements RecordingTap {
  readonly #pod: Recordings;
  readonly #call: { callSid: string; streamSid: string; from: string };
  readonly #writer: MultipartWriter;
  readonly #sealer: Sealer;
  readonly #begun: Promise<boolean>;
  readonly #startedAt = Date.now();
  readonly #agent: Buffer;
  #agentHead = 0;
  #agentLength = 0;
  #stereo = Buffer.allocUnsafe(2 * 1024);
  #samples = 0;
  /** Agent audio beyond the playback queue (counted; the recording stays valid). */
  #dropped = 0;
  /** Sealed segments the buffer budget refused: the object would have a hole, so it is not kept. */
  #lost = 0;
  #closed = false;

  constructor(pod: Recordings, call: { callSid: string; streamSid: string; from: string }) {
    const o = pod.options;
    this.#pod = pod;
    this.#call = call;
    this.#agent = Buffer.allocUnsafe(o.agentQueueBytes);
    const key = recordingKey(o.bucket, call.callSid, call.streamSid);
    this.#sealer = new Sealer(o.keyring.active, recordingPurpose(call.streamSid));
    this.#writer = new MultipartWriter(o.bucket, key, {
      metadata: this.#sealer.metadata,
      contentType: 'application/octet-stream',
      ...(o.partBytes ? { partBytes: o.partBytes } : {}),
    });
    this.#begun = o.index
      .begin({
        streamSid: call.streamSid,
        callSid: call.callSid,
        from: call.from,
        objectKey: key,
        keyId: o.keyring.active.id,
        startedAt: new Date(this.#startedAt),
        retentionDays: o.retentionDays,
      })
      .then(
        () => true,
        (error: Error) => {
          o.onError?.('index', error);
          return false;
        },
      );
    this.#emit(streamingWavHeader());
  }

  get bufferedBytes(): number {
    return this.#writer.bufferedBytes;
  }

  caller(frame: Buffer, n: number): void {
    if (this.#closed || n <= 0) return;
    if (this.#stereo.length < 2 * n) this.#stereo = Buffer.allocUnsafe(2 * n);
    const out = this.#stereo;
    const agent = this.#agent;
    const cap = agent.length;
    for (let i = 0; i < n; i++) {
      out[2 * i] = frame[i] as number;
      if (this.#agentLength > 0) {
        out[2 * i + 1] = agent[this.#agentHead] as number;
        this.#agentHead = this.#agentHead + 1 === cap ? 0 : this.#agentHead + 1;
        this.#agentLength--;
      } else out[2 * i + 1] = MULAW_SILENCE;
    }
    this.#samples += n;
    this.#emit(out.subarray(0, 2 * n));
  }

  agent(payload: string): void {
    if (this.#closed) return;
    const bytes = Buffer.from(payload, 'base64');
    const agent = this.#agent;
    const cap = agent.length;
    let n = bytes.length;
    if (this.#agentLength + n > cap) {
      const over = this.#agentLength + n - cap;
      this.#dropped += over;
      this.#pod.counters.droppedBytes += over;
      n -= over;
    }
    let tail = (this.#agentHead + this.#agentLength) % cap;
    for (let i = 0; i < n; i++) {
      agent[tail] = bytes[i] as number;
      tail = tail + 1 === cap ? 0 : tail + 1;
    }
    this.#agentLength += n;
  }

  clear(): void {
    this.#agentHead = 0;
    this.#agentLength = 0;
  }

  #emit(plain: Buffer): void {
    const o = this.#pod.options;
    for (const segment of this.#sealer.push(plain)) this.#offer(segment, o.maxBufferBytes);
  }

  #offer(segment: Buffer, budget: number): void {
    // A segment that does not fit is lost whole; a sealed stream with a hole does not open, so the
    // recording is marked failed (counted) rather than kept with a silent gap.
    if (this.#pod.bufferedBytes() + segment.length > budget || !this.#writer.offer(segment)) {
      this.#lost += segment.length;
      this.#pod.counters.droppedBytes += segment.length;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#offer(this.#sealer.final(), Number.POSITIVE_INFINITY);
    this.#pod.ended(this, this.#complete());
  }

  async #complete(): Promise<void> {
    const o = this.#pod.options;
    const counters = this.#pod.counters;
    const durationMs = Math.round((this.#samples / SAMPLE_RATE) * 1000);
    const indexed = await this.#begun;
    if (!indexed || this.#lost > 0 || this.#writer.failed) {
      // Without its index row the object could never be found for erase or retention: do not keep it.
      await this.#writer.abort();
      counters.failed++;
      if (indexed) {
        await o.index
          .complete(this.#call.streamSid, {
            status: 'failed',
            bytes: 0,
            durationMs,
            droppedBytes: this.#dropped + this.#lost,
          })
          .catch((e: Error) => o.onError?.('index', e));
      }
      return;
    }
    try {
      await this.#writer.finish();
    } catch (error) {
      counters.failed++;
      o.onError?.('upload', error as Error);
      await o.index
        .complete(this.#call.streamSid, {
          status: 'failed',
          bytes: 0,
          durationMs,
          droppedBytes: this.#dropped,
        })
        .catch(() => {});
      return;
    }
    try {
      const kept = await o.index.complete(this.#call.streamSid, {
        status: 'complete',
        bytes: this.#writer.written,
        durationMs,
        droppedBytes: this.#dropped,
      });
      if (!kept) {
        // The caller was forgotten during the call: the row is gone, so is the recording.
        await o.bucket.delete([this.#writer.key]);
        return;
      }
      counters.completed++;
      counters.storedBytes += this.#writer.written;
    } catch (error) {
      counters.failed++;
      o.onError?.('index', error as Error);
    }
  }
}
