// The local backend: no network. Greets with a short tone, then plays the caller's own speech back
// after a pause. Its own energy detector reports barge-in when the caller talks over it. A caller the
// memory knows is greeted differently ("welcome back": a rising two-note chime, item `greeting_returning`),
// so caller memory is audible without an AI backend.
import { MULAW_DECODE } from '../audio/mulaw.ts';
import { toneMulaw } from '../audio/tone.ts';
import type { AgentBackend, BackendSink, BackendStart } from './types.ts';

export interface EchoOptions {
  greeting: boolean;
  pauseMs: number;
  /** Peak amplitude above which a frame counts as speech. */
  speechThreshold?: number;
}

const CHUNK_BYTES = 1600; // 200 ms
/** First-time caller: one 600 ms tone. Returning caller: 523 Hz then 784 Hz, 300 ms each. */
export const GREETING_HZ = 523;
export const WELCOME_BACK_HZ = 784;
const MAX_BUFFER_BYTES = 8000 * 15;

const AGENT_LINES: Record<string, string> = {
  greeting: '(greeting tone)',
  greeting_returning: '(welcome back chime)',
};

export class EchoBackend implements AgentBackend {
  readonly provider = 'echo' as const;
  /** Its audio is its own (Buffer.toString('base64')). */
  readonly checksAudio = true;
  readonly #sink: BackendSink;
  readonly #o: EchoOptions;
  readonly #threshold: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #speaking = false;
  #lastSpeechAt = 0;
  #agentUntil = 0;
  #timer: NodeJS.Timeout | undefined;
  #item = 0;
  #closed = false;
  readonly #scratch = Buffer.allocUnsafe(4096);

  constructor(sink: BackendSink, o: EchoOptions) {
    this.#sink = sink;
    this.#o = o;
    this.#threshold = o.speechThreshold ?? 1200;
  }

  async start(s: BackendStart): Promise<void> {
    this.#sink.conversationId(`echo_${Date.now().toString(36)}`);
    if (!this.#o.greeting || s.resumed) return;
    if (s.context?.returning) {
      const chime = Buffer.concat([toneMulaw(GREETING_HZ, 300), toneMulaw(WELCOME_BACK_HZ, 300)]);
      queueMicrotask(() => this.#play(chime, 'greeting_returning'));
    } else {
      queueMicrotask(() => this.#play(toneMulaw(GREETING_HZ, 600), 'greeting'));
    }
  }

  sendAudio(payloadB64: string): boolean {
    if (this.#closed) return false;
    const n = this.#scratch.write(payloadB64, 'base64');
    let peak = 0;
    for (let i = 0; i < n; i += 2) {
      const v = MULAW_DECODE[this.#scratch[i] as number] as number;
      const a = v < 0 ? -v : v;
      if (a > peak) peak = a;
    }
    const now = Date.now();
    if (peak >= this.#threshold) {
      if (!this.#speaking) {
        this.#speaking = true;
        if (now < this.#agentUntil) {
          this.#agentUntil = 0;
          this.#sink.interrupted();
        }
        if (!this.#timer) this.#timer = setInterval(() => this.#tick(), 100);
      }
      this.#lastSpeechAt = now;
    }
    if (this.#speaking && this.#buffered + n <= MAX_BUFFER_BYTES) {
      this.#chunks.push(Buffer.from(this.#scratch.subarray(0, n)));
      this.#buffered += n;
    }
    return true;
  }

  #tick(): void {
    if (!this.#speaking || Date.now() - this.#lastSpeechAt < this.#o.pauseMs) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#speaking = false;
    const audio = Buffer.concat(this.#chunks);
    this.#chunks = [];
    this.#buffered = 0;
    this.#sink.transcript('caller', `(${Math.round(audio.length / 8)} ms of speech)`);
    this.#play(audio, `echo_${++this.#item}`);
  }

  #play(audio: Buffer, itemId: string): void {
    if (this.#closed) return;
    this.#agentUntil = Math.max(Date.now(), this.#agentUntil) + audio.length / 8;
    for (let off = 0; off < audio.length; off += CHUNK_BYTES) {
      this.#sink.audio(audio.subarray(off, off + CHUNK_BYTES).toString('base64'), itemId);
    }
    this.#sink.transcript('agent', AGENT_LINES[itemId] ?? '(echo of the caller)');
  }

  sendDtmf(digit: string): void {
    const freq = 600 + (Number.parseInt(digit, 10) || 10) * 40;
    queueMicrotask(() => this.#play(toneMulaw(freq, 200), `dtmf_${++this.#item}`));
  }

  toolResult(): void {}

  /** No language model: a re-prompt is the greeting tone again. */
  reprompt(): void {
    queueMicrotask(() => this.#play(toneMulaw(GREETING_HZ, 400), `reprompt_${++this.#item}`));
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
