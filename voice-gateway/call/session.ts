// One phone call: the Twilio media stream on one side, the agent backend on the other.
// The per-frame path parses the Twilio message once, splices the untouched base64 payload into the
// backend's message, and touches only preallocated state (no closures, timers or logs per frame).
import type { RawData, WebSocket } from 'ws';
import { mulawPeak } from '../audio/mulaw.ts';
import type { BackendRegistry } from '../backends/registry.ts';
import type { AgentBackend, BackendSink } from '../backends/types.ts';
import type { GatewayConfig } from '../config/schema.ts';
import { type Logger, maskPhone } from '../log.ts';
import type { CallerContext, CallerMemory, TranscriptTurn } from '../memory/types.ts';
import type { GatewayMetrics, MalformedReason } from '../metrics.ts';
import {
  clearMessage,
  type InboundStart,
  isBase64,
  markMessage,
  mediaMessage,
  parseInbound,
} from '../twilio/media-protocol.ts';
import type { TwilioRest } from '../twilio/rest.ts';
import { fallbackTwiml, goodbyeTwiml } from '../twilio/twiml.ts';
import { MarkTracker } from './marks.ts';

export interface SessionDeps {
  config: GatewayConfig;
  metrics: GatewayMetrics;
  log: Logger;
  backends: BackendRegistry;
  twilioRest: TwilioRest | undefined;
  memory: CallerMemory | undefined;
  onEnd(session: CallSession): void;
}

const SPEECH_PEAK = 1000;
const SPEECH_END_MS = 500;
const FLOOD_PER_SECOND = 400;
const MAX_TRANSCRIPT_TURNS = 500;

export class CallSession {
  readonly #ws: WebSocket;
  readonly #d: SessionDeps;
  readonly pathCallSid: string;
  #log: Logger;
  #streamSid: string | undefined;
  callSid: string;
  #from = '';
  #to = '';
  readonly connectedAt = Date.now();
  #startAt = 0;
  #backend: AgentBackend | undefined;
  #backendReady = false;
  #pending: string[] = [];
  readonly #marks = new MarkTracker();
  readonly #scratch = Buffer.allocUnsafe(8192);
  #callerSpeaking = false;
  #lastSpeechAt = 0;
  #awaitingResponseSince = 0;
  #lastActivityAt = Date.now();
  #agentAudioUntil = 0;
  #firstAudioSent = false;
  #windowStart = Date.now();
  #windowCount = 0;
  #malformedLogged = new Set<string>();
  #ending = false;
  #finished = false;
  #outcome = 'dropped';
  #conversationId: string | undefined;
  #context: CallerContext | null = null;
  readonly #transcript: TranscriptTurn[] = [];
  readonly #maxPayloadBytes: number;
  readonly #outboundLimit: number;
  readonly #queueCap: number;

  constructor(ws: WebSocket, pathCallSid: string, deps: SessionDeps) {
    this.#ws = ws;
    this.#d = deps;
    this.pathCallSid = pathCallSid;
    this.callSid = pathCallSid;
    this.#log = deps.log.child({ callSid: pathCallSid });
    this.#maxPayloadBytes = deps.config.limits.maxPayloadBytes;
    this.#outboundLimit = deps.config.limits.outboundBufferBytes;
    this.#queueCap = deps.config.limits.queueFrames;
    deps.metrics.activeCalls.inc();
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary, performance.now()));
    ws.on('close', (code) => this.#finish(code));
    ws.on('error', () => {});
  }

  get streamSid(): string | undefined {
    return this.#streamSid;
  }

  get ending(): boolean {
    return this.#ending;
  }

  // ---- Twilio side -------------------------------------------------------------------------

  #onMessage(data: RawData, isBinary: boolean, receivedAt: number): void {
    const m = this.#d.metrics;
    m.frames.in++;
    if (this.#finished) return;
    if (isBinary) {
      this.#malformed('binary');
      return;
    }
    if (++this.#windowCount > FLOOD_PER_SECOND) {
      const now = Date.now();
      if (now - this.#windowStart >= 1000) {
        this.#windowStart = now;
        this.#windowCount = 1;
      } else {
        this.#malformed('flood');
        return;
      }
    }
    const buf = data as Buffer;
    if (buf.length > this.#maxPayloadBytes) {
      this.#malformed('oversize');
      return;
    }
    const msg = parseInbound(buf.toString());
    if ('error' in msg) {
      this.#malformed(msg.error);
      return;
    }
    switch (msg.event) {
      case 'media':
        if (this.#wrongSid(msg.streamSid)) return;
        if (!isBase64(msg.payload)) {
          this.#malformed('missing_fields');
          return;
        }
        this.#callerAudio(msg.payload, receivedAt);
        return;
      case 'mark':
        if (this.#wrongSid(msg.streamSid)) return;
        this.#marks.echoed(msg.name);
        return;
      case 'dtmf':
        if (this.#wrongSid(msg.streamSid)) return;
        this.#log.info({ event: 'dtmf' }, 'caller pressed a key');
        this.#lastActivityAt = Date.now();
        if (this.#backendReady) this.#backend?.sendDtmf(msg.digit);
        return;
      case 'start':
        if (this.#streamSid) {
          this.#malformed('unknown_event');
          return;
        }
        void this.#start(msg.start);
        return;
      case 'stop':
        if (this.#wrongSid(msg.streamSid)) return;
        if (!this.#ending) this.#outcome = 'completed';
        this.#ending = true;
        this.#ws.close(1000);
        return;
      case 'connected':
        return;
    }
  }

  #wrongSid(streamSid: string): boolean {
    if (streamSid === this.#streamSid) return false;
    this.#malformed(this.#streamSid ? 'wrong_stream_sid' : 'before_start');
    return true;
  }

  #malformed(reason: MalformedReason): void {
    this.#d.metrics.malformed[reason]++;
    if (!this.#malformedLogged.has(reason)) {
      this.#malformedLogged.add(reason);
      this.#log.warn({ reason }, 'malformed media stream frame (logged once per call and reason)');
    }
  }

  #callerAudio(payload: string, receivedAt: number): void {
    const now = Date.now();
    const n = this.#scratch.write(payload, 'base64');
    if (mulawPeak(this.#scratch, n) >= SPEECH_PEAK) {
      this.#lastSpeechAt = now;
      this.#lastActivityAt = now;
      if (!this.#callerSpeaking) {
        this.#callerSpeaking = true;
        this.#awaitingResponseSince = 0;
      }
    } else if (this.#callerSpeaking && now - this.#lastSpeechAt > SPEECH_END_MS) {
      this.#callerSpeaking = false;
      this.#awaitingResponseSince = this.#lastSpeechAt;
    }
    const m = this.#d.metrics;
    if (this.#backendReady) {
      if (this.#backend?.sendAudio(payload)) {
        m.frames.to_backend++;
        m.relayLatency.observe('to_backend', receivedAt);
      } else m.dropped.backend_backpressure++;
    } else if (!this.#ending) {
      if (this.#pending.length < this.#queueCap) this.#pending.push(payload);
      else m.dropped.queue_full++;
    }
  }

  async #start(s: InboundStart): Promise<void> {
    const d = this.#d;
    this.#streamSid = s.streamSid;
    this.callSid = s.callSid;
    this.#from = s.customParameters.From ?? '';
    this.#to = s.customParameters.To ?? '';
    this.#startAt = Date.now();
    this.#lastActivityAt = this.#startAt;
    this.#log = d.log.child({ callSid: s.callSid, streamSid: s.streamSid });
    if (s.callSid !== this.pathCallSid)
      this.#log.warn({ pathCallSid: this.pathCallSid }, 'callSid differs from the stream path');
    this.#log.info({ from: maskPhone(this.#from), to: maskPhone(this.#to) }, 'media stream started');

    const breaker = d.backends.breaker();
    if (!breaker.tryAcquire()) {
      this.#log.warn({ provider: d.backends.provider }, 'circuit open: caller gets the fallback');
      return this.#redirect(fallbackTwiml(d.config.calls.fallback), 'circuit_open');
    }
    const backend = d.backends.create(this.#sink, d.memory !== undefined);
    this.#backend = backend;
    if (d.memory && this.#from) this.#context = await this.#lookup(d.memory, this.#from);
    if (this.#finished) {
      backend.close();
      return;
    }
    try {
      await backend.start({
        callSid: this.callSid,
        streamSid: s.streamSid,
        from: this.#from,
        to: this.#to,
        context: this.#context,
      });
    } catch (err) {
      breaker.failure();
      d.metrics.backendErrors.labels(backend.provider).inc();
      this.#log.error(
        { err: (err as Error).message, provider: backend.provider },
        'agent backend unavailable',
      );
      backend.close();
      if (!this.#finished) this.#redirect(fallbackTwiml(d.config.calls.fallback), 'backend_unavailable');
      return;
    }
    breaker.success();
    if (this.#finished || this.#ending) {
      backend.close();
      return;
    }
    this.#backendReady = true;
    const queued = this.#pending;
    this.#pending = [];
    for (const p of queued) {
      if (backend.sendAudio(p)) d.metrics.frames.to_backend++;
      else d.metrics.dropped.backend_backpressure++;
    }
  }

  async #lookup(memory: CallerMemory, phone: string): Promise<CallerContext | null> {
    const budget = this.#d.config.memory?.lookupBudgetMs ?? 300;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((r) => {
      timer = setTimeout(() => r(null), budget + 20);
    });
    try {
      const ctx = await Promise.race([memory.lookup(phone, budget).catch(() => null), timeout]);
      this.#d.metrics.memoryLookups.labels(ctx ? 'hit' : 'miss').inc();
      return ctx;
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- backend side ------------------------------------------------------------------------

  readonly #sink: BackendSink = {
    audio: (payload, itemId, receivedAt) => this.#agentAudio(payload, itemId, receivedAt ?? 0),
    interrupted: () => this.#interrupted(),
    transcript: (role, text) => {
      if (this.#transcript.length < MAX_TRANSCRIPT_TURNS) {
        this.#transcript.push({ role, text, atMs: Date.now() - this.#startAt });
      }
    },
    toolCall: (name, id, params) => void this.#toolCall(name, id, params),
    conversationId: (id) => {
      this.#conversationId = id;
      this.#log = this.#log.child({ conversationId: id });
    },
    hangup: () => {
      this.#outcome = 'completed';
      this.#ending = true;
      this.#backend?.close();
      this.#ws.close(1000);
    },
    protocolError: (reason) => {
      const key = `backend:${reason}`;
      if (!this.#malformedLogged.has(key)) {
        this.#malformedLogged.add(key);
        this.#log.warn(
          { reason, provider: this.#backend?.provider },
          'backend protocol error (logged once per call)',
        );
      }
    },
    audioDropped: () => {
      this.#d.metrics.dropped.interrupted++;
    },
    failed: (err) => {
      if (this.#ending || this.#finished || !this.#backendReady) return;
      const d = this.#d;
      d.backends.breaker().failure();
      d.metrics.backendErrors.labels(this.#backend?.provider ?? 'unknown').inc();
      this.#log.error({ err: err.message }, 'agent backend failed mid-call: caller gets the fallback');
      this.#redirect(fallbackTwiml(d.config.calls.fallback), 'backend_failed');
    },
  };

  #agentAudio(payload: string, itemId: string | undefined, receivedAt: number): void {
    const m = this.#d.metrics;
    m.frames.from_backend++;
    if (this.#ending || this.#finished || !this.#streamSid) return;
    if (!isBase64(payload)) {
      this.#sink.protocolError('invalid_audio');
      return;
    }
    if (this.#ws.bufferedAmount > this.#outboundLimit) {
      m.dropped.twilio_backpressure++;
      return;
    }
    const now = Date.now();
    if (!this.#firstAudioSent) {
      this.#firstAudioSent = true;
      m.firstAudio.observe((now - this.#startAt) / 1000);
    }
    if (this.#awaitingResponseSince) {
      m.responseLatency.observe((now - this.#awaitingResponseSince) / 1000);
      this.#awaitingResponseSince = 0;
    }
    const ms = (payload.length * 3) / 4 / 8;
    this.#agentAudioUntil = Math.max(now, this.#agentAudioUntil) + ms;
    this.#lastActivityAt = now;
    this.#ws.send(mediaMessage(this.#streamSid, payload));
    this.#ws.send(markMessage(this.#streamSid, this.#marks.sent(itemId, ms)));
    m.frames.out += 2;
    m.relayLatency.observe('to_caller', receivedAt);
  }

  #interrupted(): void {
    if (!this.#streamSid || this.#ending || this.#finished) return;
    const item = this.#marks.currentItem;
    const unheard = this.#marks.pending;
    const played = this.#marks.playedMs(item);
    this.#ws.send(clearMessage(this.#streamSid));
    this.#d.metrics.frames.out++;
    this.#marks.cleared();
    this.#agentAudioUntil = 0;
    if (unheard && item !== undefined) this.#backend?.truncate?.(item, played);
    this.#log.info(
      { event: 'barge_in', truncatedAtMs: unheard ? played : undefined },
      'caller interrupted the agent',
    );
  }

  async #toolCall(name: string, id: string, params: Record<string, unknown>): Promise<void> {
    const backend = this.#backend;
    if (!backend) return;
    if (name !== 'search_memory') return backend.toolResult(id, `unknown tool ${name}`, true);
    const memory = this.#d.memory;
    if (!memory || !this.#context) return backend.toolResult(id, 'no caller memory available', true);
    try {
      const query = typeof params.query === 'string' ? params.query : '';
      const items = await memory.search(this.#context.callerId, query, 5);
      backend.toolResult(
        id,
        JSON.stringify(items.map((i) => ({ kind: i.kind, text: i.text, at: i.createdAt }))),
        false,
      );
    } catch (err) {
      backend.toolResult(id, `memory search failed: ${(err as Error).message}`, true);
    }
  }

  // ---- ending ------------------------------------------------------------------------------

  /** Called about twice a second by the server's shared ticker. */
  tick(now: number): void {
    if (this.#ending || this.#finished || !this.#startAt) return;
    const calls = this.#d.config.calls;
    if (now - this.#startAt >= calls.maxDurationSeconds * 1000) {
      this.endPolitely('max_duration');
    } else if (
      now - Math.max(this.#lastActivityAt, this.#agentAudioUntil) >= calls.silenceTimeoutSeconds * 1000 &&
      !this.#marks.pending
    ) {
      this.endPolitely('silence_timeout');
    }
  }

  /** Ends the call with a goodbye (Twilio REST redirect), not a cut. */
  endPolitely(outcome: string): void {
    this.#redirect(goodbyeTwiml(this.#d.config.calls.goodbye), outcome);
  }

  #redirect(twiml: string, outcome: string): void {
    if (this.#ending || this.#finished) return;
    this.#ending = true;
    this.#outcome = outcome;
    this.#backendReady = false;
    this.#backend?.close();
    this.#log.info({ outcome }, 'ending the call through Twilio');
    const rest = this.#d.twilioRest;
    if (!rest) {
      this.#ws.close(1000);
      return;
    }
    void rest.updateCall(this.callSid, twiml).then((ok) => {
      if (!ok) this.#log.error({ outcome }, 'Twilio REST call update failed; closing the stream');
      // Twilio ends the stream itself after the update; close after a grace period in case it does not.
      setTimeout(() => this.#ws.close(1000), ok ? 1500 : 0).unref();
    });
  }

  #finish(code: number): void {
    if (this.#finished) return;
    this.#finished = true;
    const d = this.#d;
    if (!this.#ending) {
      d.metrics.websocketDrops.inc();
      if (code === 1009) this.#malformed('oversize');
    }
    this.#backendReady = false;
    this.#backend?.close();
    this.#pending = [];
    d.metrics.activeCalls.dec();
    d.metrics.calls.labels(this.#outcome).inc();
    const endedAt = Date.now();
    if (this.#startAt) d.metrics.callDuration.observe((endedAt - this.#startAt) / 1000);
    this.#log.info(
      { outcome: this.#outcome, durationMs: this.#startAt ? endedAt - this.#startAt : 0 },
      'call ended',
    );
    if (d.memory && this.#startAt && this.#from) {
      d.memory.record({
        callSid: this.callSid,
        from: this.#from,
        to: this.#to,
        startedAt: new Date(this.#startAt).toISOString(),
        endedAt: new Date(endedAt).toISOString(),
        outcome: this.#outcome,
        transcript: this.#transcript,
      });
    }
    d.onEnd(this);
  }

  get conversationId(): string | undefined {
    return this.#conversationId;
  }
}
