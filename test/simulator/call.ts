// Twilio call simulator (library): signs the voice webhook like Twilio, follows the TwiML, opens the
// media stream with a signed upgrade, sends caller audio as 20 ms mu-law frames in real time, plays
// agent audio out through a simulated buffer and echoes marks exactly as Twilio does (when the
// audio before them has played, or at once on clear), and records what the caller heard.
// A REST update with new TwiML ends the current stream (stop, close); when that TwiML is another
// <Connect><Stream> (a drain hand-off), the call goes on, as with Twilio, on a new stream (new
// streamSid, same CallSid) opened through the same front door with the new <Parameter>s.
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { mulawPeak } from '../../voice-gateway/audio/mulaw.ts';
import { toneMulaw } from '../../voice-gateway/audio/tone.ts';
import { computeSignature } from '../../voice-gateway/twilio/signature.ts';
import { classifyGreeting, type Greeting } from './greeting.ts';
import { mediaFrame } from './media-frame.ts';
import { postWebhook } from './webhook-post.ts';

export type SignatureMode = 'valid' | 'wrong' | 'missing' | 'wrong-url';

export interface CallOptions {
  /** Where the gateway really listens, e.g. http://127.0.0.1:8080. */
  gatewayUrl: string;
  /** The gateway's configured publicBaseUrl (what Twilio signs). */
  publicBaseUrl: string;
  authToken: string;
  callSid?: string;
  from?: string;
  to?: string;
  accountSid?: string;
  /** Caller audio (8 kHz mu-law); silence is sent after it until the call ends. */
  audio?: Buffer;
  /** Hang up (send stop) this long after the stream started. Default: audio length + 3 s. */
  hangupAfterMs?: number;
  signature?: SignatureMode;
  /** Signature mode of the WebSocket upgrade (default: same as `signature`). */
  streamSignature?: SignatureMode;
  /** Keep the agent's audio (to write a WAV). */
  record?: boolean;
  /** Observe every message the gateway sends on the stream. */
  onMessage?: (msg: OutboundMessage, call: SimulatedCall) => void;
  /** Send caller media frames (default true; false = only the events the test sends). */
  sendAudio?: boolean;
  /** The voice webhook URL's path and query (default /twilio/voice), e.g. an outbound call's Url. */
  webhookPath?: string;
  /** Extra or replaced webhook parameters (e.g. Direction=outbound-api, AnsweredBy). */
  webhookParams?: Record<string, string>;
}

export interface OutboundMessage {
  event: string;
  streamSid?: string;
  media?: { payload: string };
  mark?: { name: string };
}

export interface CallResult {
  /** stream: media stream ran; fallback: TwiML without <Stream>; rejected: webhook refused. */
  kind: 'stream' | 'fallback' | 'rejected' | 'stream_refused';
  webhookStatus: number;
  twiml: string;
  /** Who ended the stream. */
  endedBy: 'caller' | 'gateway' | 'redirect' | 'none';
  redirectTwiml?: string;
  closeCode?: number;
  mediaReceived: number;
  agentAudioMs: number;
  marksReceived: number;
  marksEchoed: number;
  clears: number;
  invalidOutbound: number;
  firstAudioMs?: number;
  responseLatencyMs: number[];
  durationMs: number;
  agentAudio?: Buffer;
  /** Every media stream of the call, in order (more than one after a hand-off). */
  streams: StreamRecord[];
  /** Hand-offs followed (REST updates to a new <Connect><Stream>). */
  handoffs: number;
  /** Per hand-off: from the old stream's stop to the new stream's start (no caller audio flows). */
  handoffGapsMs: number[];
  /** Per hand-off: from the end of the agent audio played on the old stream to the first agent audio on the new one. */
  agentGapsMs: number[];
  /** Streams whose first agent audio was the echo backend's greeting (first-time or welcome-back). */
  greetings: number;
}

export interface StreamRecord {
  streamSid: string;
  /** X-Callfleet-Pod of the upgrade response (the pod that took the stream), when sent. */
  pod?: string;
  customParameters: Record<string, string>;
  /** ms since the call's first stream started. */
  openedAtMs: number;
  closedAtMs?: number;
  /** Greeting heard at the start of this stream (echo backend tones). */
  greeting: Greeting;
  agentAudioMs: number;
}

const FRAME_BYTES = 160;
const FRAME_MS = 20;
const SILENCE_FRAME = Buffer.alloc(FRAME_BYTES, 0xff).toString('base64');
const GREETING_BYTES = 4800;

/** Calls in flight in this process, by CallSid (the fake Twilio REST redirects them). */
export const activeCalls = new Map<string, SimulatedCall>();

// One ticker drives every simulated call in the process (no timer per call).
const ticking = new Set<SimulatedCall>();
let ticker: NodeJS.Timeout | undefined;
function schedule(call: SimulatedCall) {
  ticking.add(call);
  if (!ticker) {
    ticker = setInterval(() => {
      const now = performance.now();
      for (const c of ticking) c.tick(now);
    }, 10);
  }
}
function unschedule(call: SimulatedCall) {
  ticking.delete(call);
  if (ticking.size === 0 && ticker) {
    clearInterval(ticker);
    ticker = undefined;
  }
}

export function newCallSid(): string {
  return `CA${randomBytes(16).toString('hex')}`;
}

function sign(
  mode: SignatureMode,
  token: string,
  url: string,
  params: Record<string, string>,
): string | undefined {
  if (mode === 'missing') return undefined;
  if (mode === 'wrong') return computeSignature(`${token}x`, url, params);
  if (mode === 'wrong-url')
    return computeSignature(token, url.replace(/\/\/[^/]+/, '//attacker.example.com'), params);
  return computeSignature(token, url, params);
}

function attr(xml: string, re: RegExp): string | undefined {
  const m = re.exec(xml);
  return m?.[1]
    ?.replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

export class SimulatedCall {
  readonly o: CallOptions;
  readonly callSid: string;
  streamSid = `MZ${randomBytes(16).toString('hex')}`;
  readonly from: string;
  readonly to: string;
  ws: WebSocket | undefined;
  readonly result: CallResult;
  readonly done: Promise<CallResult>;
  #resolve!: (r: CallResult) => void;
  #seq = 0;
  #chunk = 0;
  #startAt = 0;
  #framesSent = 0;
  #audio: Buffer;
  #speechFrames: Uint8Array;
  #playoutEnd = 0;
  #pendingMarks: { name: string; at: number }[] = [];
  #recorded: Buffer[] = [];
  #lastSpeechSentAt = 0;
  #awaitingResponse = false;
  #hangupAt: number;
  #closed = false;
  #resolved = false;
  /** Frame index at which the current stream started (media timestamps are per stream). */
  #streamFirstFrame = 0;
  #streamHead: Buffer[] = [];
  #streamHeadBytes = 0;
  #lastPlayoutEnd = 0;
  #awaitingAgentAfterHandoff = 0;

  constructor(o: CallOptions) {
    this.o = o;
    this.callSid = o.callSid ?? newCallSid();
    this.from = o.from ?? '+14155550100';
    this.to = o.to ?? '+14155550199';
    this.#audio = o.audio ?? Buffer.alloc(0);
    const frames = Math.ceil(this.#audio.length / FRAME_BYTES);
    this.#speechFrames = new Uint8Array(frames);
    for (let i = 0; i < frames; i++) {
      const f = this.#audio.subarray(i * FRAME_BYTES, (i + 1) * FRAME_BYTES);
      this.#speechFrames[i] = mulawPeak(f, f.length, 1) >= 1000 ? 1 : 0;
    }
    this.#hangupAt = o.hangupAfterMs ?? this.#audio.length / 8 + 3000;
    this.result = {
      kind: 'rejected',
      webhookStatus: 0,
      twiml: '',
      endedBy: 'none',
      mediaReceived: 0,
      agentAudioMs: 0,
      marksReceived: 0,
      marksEchoed: 0,
      clears: 0,
      invalidOutbound: 0,
      responseLatencyMs: [],
      durationMs: 0,
      streams: [],
      handoffs: 0,
      handoffGapsMs: [],
      agentGapsMs: [],
      greetings: 0,
    };
    this.done = new Promise((r) => {
      this.#resolve = r;
    });
  }

  /** POSTs the voice webhook and, when the TwiML says so, opens the media stream. */
  async dial(): Promise<void> {
    const params: Record<string, string> = {
      AccountSid: this.o.accountSid ?? 'AC00000000000000000000000000000000',
      CallSid: this.callSid,
      From: this.from,
      To: this.to,
      CallStatus: 'ringing',
      Direction: 'inbound',
      ApiVersion: '2010-04-01',
      ...this.o.webhookParams,
    };
    const path = this.o.webhookPath ?? '/twilio/voice';
    const publicUrl = `${this.o.publicBaseUrl.replace(/\/+$/, '')}${path}`;
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    const sig = sign(this.o.signature ?? 'valid', this.o.authToken, publicUrl, params);
    if (sig) headers['x-twilio-signature'] = sig;
    const res = await postWebhook(
      `${this.o.gatewayUrl.replace(/\/+$/, '')}${path}`,
      headers,
      new URLSearchParams(params).toString(),
    );
    this.result.webhookStatus = res.status;
    this.result.twiml = await res.text();
    if (res.status !== 200) return this.#finish('none', 'rejected');
    const streamUrl = attr(this.result.twiml, /<Stream[^>]*\surl="([^"]+)"/);
    if (!streamUrl) return this.#finish('none', 'fallback');
    this.result.kind = 'stream';
    await this.#openStream(streamUrl, this.result.twiml);
  }

  async #openStream(streamUrl: string, twiml: string): Promise<boolean> {
    const resumed = this.#startAt > 0;
    const pub = new URL(streamUrl);
    const real = new URL(this.o.gatewayUrl);
    const wsUrl = `${real.protocol === 'https:' ? 'wss' : 'ws'}://${real.host}${pub.pathname}${pub.search}`;
    const headers: Record<string, string> = {};
    const sig = sign(this.o.streamSignature ?? this.o.signature ?? 'valid', this.o.authToken, streamUrl, {});
    if (sig) headers['x-twilio-signature'] = sig;
    const ws = new WebSocket(wsUrl, { headers, perMessageDeflate: false });
    this.ws = ws;
    let pod: string | undefined;
    ws.once('upgrade', (res) => {
      const h = res.headers['x-callfleet-pod'];
      pod = Array.isArray(h) ? h[0] : h;
    });
    const opened = await new Promise<boolean>((resolve) => {
      ws.once('open', () => resolve(true));
      ws.once('unexpected-response', (_req, r) => {
        this.result.webhookStatus = r.statusCode ?? 0;
        resolve(false);
      });
      ws.once('error', () => resolve(false));
    });
    if (!opened) {
      ws.terminate();
      // A resumed stream that cannot open ends the call: the caller was cut.
      this.#finish(resumed ? 'gateway' : 'none', resumed ? 'stream' : 'stream_refused');
      return false;
    }
    activeCalls.set(this.callSid, this);
    ws.on('message', (data) => {
      if (this.ws === ws) this.#onMessage(data.toString());
    });
    ws.on('close', (code) => {
      if (this.ws !== ws) return; // an earlier stream of this call, ended by a hand-off
      this.result.closeCode = code;
      this.#finish(this.result.endedBy === 'none' ? 'gateway' : this.result.endedBy, 'stream');
    });
    ws.on('error', () => {});
    const custom: Record<string, string> = {};
    for (const m of twiml.matchAll(/<Parameter name="([^"]*)" value="([^"]*)"\/>/g)) {
      custom[attr(`x="${m[1]}"`, /x="([^"]*)"/) ?? ''] = attr(`x="${m[2]}"`, /x="([^"]*)"/) ?? '';
    }
    const now = performance.now();
    if (!resumed) this.#startAt = now;
    // Caller audio spoken while no stream was up is lost, as on a real call.
    this.#framesSent = Math.floor((now - this.#startAt) / FRAME_MS);
    this.#streamFirstFrame = this.#framesSent;
    this.#seq = 0;
    this.#chunk = 0;
    this.#streamHead = [];
    this.#streamHeadBytes = 0;
    this.result.streams.push({
      streamSid: this.streamSid,
      ...(pod ? { pod } : {}),
      customParameters: custom,
      openedAtMs: now - this.#startAt,
      greeting: 'none',
      agentAudioMs: 0,
    });
    this.send({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    this.sendEvent('start', {
      start: {
        accountSid: this.o.accountSid ?? 'AC00000000000000000000000000000000',
        streamSid: this.streamSid,
        callSid: this.callSid,
        tracks: ['inbound'],
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        customParameters: custom,
      },
    });
    schedule(this);
    return true;
  }

  /** Closes the record of the current stream: when it ended and which greeting it started with. */
  #endStream(now: number): void {
    const s = this.result.streams.at(-1);
    if (!s || s.closedAtMs !== undefined) return;
    s.closedAtMs = now - this.#startAt;
    s.greeting = classifyGreeting(Buffer.concat(this.#streamHead));
    if (s.greeting !== 'none') this.result.greetings++;
  }

  /** Twilio runs the new <Connect><Stream>: the old stream stops, a new one opens (same CallSid). */
  async #followStream(twiml: string, streamUrl: string): Promise<void> {
    const old = this.ws;
    if (!old || this.#closed) return;
    this.result.handoffs++;
    const stoppedAt = performance.now();
    this.sendEvent('stop', {
      stop: { accountSid: this.o.accountSid ?? 'AC00000000000000000000000000000000', callSid: this.callSid },
    });
    this.ws = undefined;
    old.close(1000);
    this.#endStream(stoppedAt);
    this.#lastPlayoutEnd = Math.max(this.#playoutEnd, stoppedAt);
    this.#playoutEnd = 0;
    this.#pendingMarks = [];
    this.#awaitingAgentAfterHandoff = this.#lastPlayoutEnd;
    this.streamSid = `MZ${randomBytes(16).toString('hex')}`;
    if (await this.#openStream(streamUrl, twiml)) {
      this.result.handoffGapsMs.push(performance.now() - stoppedAt);
    }
  }

  send(msg: unknown): void {
    if (this.ws?.readyState === WebSocket.OPEN)
      this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  /** Sends a Twilio event with the next sequenceNumber and our streamSid. */
  sendEvent(event: string, body: Record<string, unknown>): void {
    this.send({ event, sequenceNumber: `${++this.#seq}`, ...body, streamSid: this.streamSid });
  }

  sendDtmf(digit: string): void {
    this.sendEvent('dtmf', { dtmf: { track: 'inbound_track', digit } });
  }

  /** Replaces the caller audio from now on (e.g. to start speaking mid-call). */
  speak(audio: Buffer): void {
    const now = performance.now();
    const elapsedFrames = Math.floor((now - this.#startAt) / FRAME_MS);
    const pad = Math.max(0, elapsedFrames * FRAME_BYTES - this.#audio.length);
    this.#audio = Buffer.concat([
      this.#audio.subarray(0, elapsedFrames * FRAME_BYTES),
      Buffer.alloc(pad, 0xff),
      audio,
    ]);
    const frames = Math.ceil(this.#audio.length / FRAME_BYTES);
    const flags = new Uint8Array(frames);
    for (let i = 0; i < frames; i++) {
      const f = this.#audio.subarray(i * FRAME_BYTES, (i + 1) * FRAME_BYTES);
      flags[i] = mulawPeak(f, f.length, 1) >= 1000 ? 1 : 0;
    }
    this.#speechFrames = flags;
  }

  tick(now: number): void {
    if (this.#closed || !this.ws) return;
    const elapsed = now - this.#startAt;
    if (this.o.sendAudio !== false) {
      const due = Math.floor(elapsed / FRAME_MS);
      while (this.#framesSent < due) this.#sendFrame(now);
    }
    while (this.#pendingMarks.length && (this.#pendingMarks[0] as { at: number }).at <= now) {
      this.#echoMark((this.#pendingMarks.shift() as { name: string }).name);
    }
    if (elapsed >= this.#hangupAt) this.hangup();
  }

  #sendFrame(now: number): void {
    const i = this.#framesSent++;
    let payload = SILENCE_FRAME;
    if (i * FRAME_BYTES < this.#audio.length) {
      payload = this.#audio.subarray(i * FRAME_BYTES, (i + 1) * FRAME_BYTES).toString('base64');
      if (this.#speechFrames[i]) {
        this.#lastSpeechSentAt = now;
        this.#awaitingResponse = true;
      }
    }
    ++this.#chunk;
    this.send(
      mediaFrame(this.streamSid, payload, ++this.#seq, this.#chunk, (i - this.#streamFirstFrame) * FRAME_MS),
    );
  }

  #echoMark(name: string): void {
    this.result.marksEchoed++;
    this.sendEvent('mark', { mark: { name } });
  }

  #onMessage(text: string): void {
    let msg: OutboundMessage;
    try {
      msg = JSON.parse(text);
    } catch {
      this.result.invalidOutbound++;
      return;
    }
    const now = performance.now();
    if (msg.streamSid !== this.streamSid) this.result.invalidOutbound++;
    switch (msg.event) {
      case 'media': {
        const payload = msg.media?.payload;
        if (typeof payload !== 'string') {
          this.result.invalidOutbound++;
          break;
        }
        const ms = (payload.length * 3) / 4 / 8;
        this.result.mediaReceived++;
        this.result.agentAudioMs += ms;
        const stream = this.result.streams.at(-1);
        if (stream) stream.agentAudioMs += ms;
        if (this.#streamHeadBytes < GREETING_BYTES) {
          const b = Buffer.from(payload, 'base64');
          this.#streamHead.push(b);
          this.#streamHeadBytes += b.length;
        }
        if (this.#awaitingAgentAfterHandoff) {
          this.result.agentGapsMs.push(now - this.#awaitingAgentAfterHandoff);
          this.#awaitingAgentAfterHandoff = 0;
        }
        if (this.result.firstAudioMs === undefined) this.result.firstAudioMs = now - this.#startAt;
        if (this.#awaitingResponse && now - this.#lastSpeechSentAt > 300) {
          this.result.responseLatencyMs.push(now - this.#lastSpeechSentAt);
          this.#awaitingResponse = false;
        }
        this.#playoutEnd = Math.max(now, this.#playoutEnd) + ms;
        if (this.o.record) this.#recorded.push(Buffer.from(payload, 'base64'));
        break;
      }
      case 'mark': {
        this.result.marksReceived++;
        const name = msg.mark?.name ?? '';
        if (this.#playoutEnd <= now) this.#echoMark(name);
        else this.#pendingMarks.push({ name, at: this.#playoutEnd });
        break;
      }
      case 'clear': {
        this.result.clears++;
        this.#playoutEnd = now;
        const pending = this.#pendingMarks;
        this.#pendingMarks = [];
        for (const m of pending) this.#echoMark(m.name);
        break;
      }
      default:
        this.result.invalidOutbound++;
    }
    this.o.onMessage?.(msg, this);
  }

  /** The caller hangs up: Twilio sends stop and closes the stream. */
  hangup(): void {
    if (this.#closed || !this.ws) return;
    if (this.result.endedBy === 'none') this.result.endedBy = 'caller';
    this.sendEvent('stop', {
      stop: { accountSid: this.o.accountSid ?? 'AC00000000000000000000000000000000', callSid: this.callSid },
    });
    this.ws.close(1000);
    this.#closed = true;
  }

  /**
   * A REST update replaced the call's TwiML: the stream ends as Twilio ends it; a new
   * <Connect><Stream> is followed on a new stream, anything else ends the call.
   */
  redirected(twiml: string): void {
    const next = attr(twiml, /<Connect>\s*<Stream[^>]*\surl="([^"]+)"/);
    if (next && !this.#closed) {
      void this.#followStream(twiml, next);
      return;
    }
    this.result.redirectTwiml = twiml;
    if (this.result.endedBy === 'none') this.result.endedBy = 'redirect';
    this.hangup();
  }

  #finish(endedBy: CallResult['endedBy'], kind: CallResult['kind']): void {
    if (this.#resolved) return;
    this.#closed = true;
    this.#resolved = true;
    this.#endStream(performance.now());
    unschedule(this);
    activeCalls.delete(this.callSid);
    this.result.kind = kind;
    this.result.endedBy = endedBy;
    this.result.durationMs = this.#startAt ? performance.now() - this.#startAt : 0;
    if (this.o.record) this.result.agentAudio = Buffer.concat(this.#recorded);
    this.#resolve(this.result);
  }
}

/** Places a call and resolves when it ended. */
export async function placeCall(o: CallOptions): Promise<CallResult> {
  const call = new SimulatedCall(o);
  await call.dial();
  return call.done;
}

/** Starts a call; the returned object is live (send DTMF, speak, hang up) and `done` resolves at the end. */
export async function startCall(o: CallOptions): Promise<SimulatedCall> {
  const call = new SimulatedCall(o);
  await call.dial();
  return call;
}

/** Generated "speech": tone bursts separated by pauses, as 8 kHz mu-law. */
export function speechPattern(totalMs: number, talkMs = 1000, pauseMs = 1500, freq = 300): Buffer {
  const parts: Buffer[] = [];
  let t = 0;
  while (t < totalMs) {
    parts.push(toneMulaw(freq, Math.min(talkMs, totalMs - t), 9000));
    t += talkMs;
    if (t >= totalMs) break;
    parts.push(Buffer.alloc(Math.round(Math.min(pauseMs, totalMs - t) * 8), 0xff));
    t += pauseMs;
  }
  return Buffer.concat(parts);
}

export function silence(ms: number): Buffer {
  return Buffer.alloc(Math.round(ms * 8), 0xff);
}
