// Energy-based speech detection on audio time (not wall time), shared by the fake agent servers.
import { mulawPeak } from '../../voice-gateway/audio/mulaw.ts';

export class SpeechDetector {
  #speaking = false;
  #silentMs = 0;
  readonly #endMs: number;
  constructor(endMs = 300) {
    this.#endMs = endMs;
  }
  get speaking(): boolean {
    return this.#speaking;
  }
  /** Feeds mu-law bytes; returns 'start' / 'end' on a transition. */
  feedMulaw(b: Buffer): 'start' | 'end' | null {
    const loud = mulawPeak(b, b.length, 2) >= 1000;
    return this.#step(loud, b.length / 8);
  }
  /** Feeds 16-bit PCM little-endian bytes. */
  feedPcm(b: Buffer, rate: number): 'start' | 'end' | null {
    let peak = 0;
    for (let i = 0; i + 1 < b.length; i += 4) peak = Math.max(peak, Math.abs(b.readInt16LE(i)));
    return this.#step(peak >= 1000, b.length / 2 / (rate / 1000));
  }
  #step(loud: boolean, ms: number): 'start' | 'end' | null {
    if (loud) {
      this.#silentMs = 0;
      if (!this.#speaking) {
        this.#speaking = true;
        return 'start';
      }
      return null;
    }
    if (!this.#speaking) return null;
    this.#silentMs += ms;
    if (this.#silentMs >= this.#endMs) {
      this.#speaking = false;
      return 'end';
    }
    return null;
  }
}

export async function listenOn(server: import('node:http').Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const a = server.address();
  return typeof a === 'object' && a ? a.port : 0;
}
