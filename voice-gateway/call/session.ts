// One phone call: the Twilio media stream on one side, the agent backend on the other.
// The per-frame path parses the Twilio message once, splices the untouched base64 payload into the
// backend's message, and touches only preallocated state (no closures, timers or logs per frame).
import type { Socket } from 'node:net';
import type { RawData, WebSocket } from 'ws';
import { mulawPeak } from '../audio/mulaw.ts';
import type { BackendRegistry } from '../backends/registry.ts';
import type { AgentBackend, BackendSink } from '../backends/types.ts';
import type { GatewayConfig } from '../config/schema.ts';
import { type Logger, maskPhone } from '../log.ts';
import type { CallerContext, CallerMemory, HandoffRecord, TranscriptTurn } from '../memory/types.ts';
import type { GatewayMetrics, MalformedReason } from '../metrics.ts';
import {
  clearMessage,
  type InboundStart,
  isBase64,
  markMessage,
  mediaMessage,
} from '../twilio/media-protocol.ts';
import { parseInboundFrame } from '../twilio/media-scan.ts';
import type { TwilioRest } from '../twilio/rest.ts';
import { connectStreamTwiml, fallbackTwiml, goodbyeTwiml } from '../twilio/twiml.ts';
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

/** What became of one call at the hand-off deadline (the label of callfleet_handoffs_total). */
export type HandoffResult = 'sent' | 'no_memory' | 'no_rest' | 'store_failed' | 'rest_failed' | 'not_live';

/** Stream <Parameter>s that mark a resumed call (set by the pod that handed it off). */
export const RESUMED_PARAM = 'callfleet_resumed';
export const HANDOFF_AT_PARAM = 'callfleet_handoff_at';
export const STARTED_AT_PARAM = 'callfleet_started_at';
const HANDOFF_STORE_TIMEOUT_MS = 3000;
const HANDOFF_LOAD_TIMEOUT_MS = 2000;

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
  /** When the call started: the first stream's start, also on a pod that resumed the call. */
  #callStartedAt = 0;
  #resumed = false;
  /** Epoch ms at which the previous pod handed this call off (0: not a resumed stream / measured). */
  #handoffAt = 0;
  #handoffs = 0;
  #handingOff = false;
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
    const msg = parseInboundFrame(buf);
    if ('error' in msg) {
      this.#malformed(msg.error);
      return;
    }
    switch (msg.event) {
      case 'media':
        if (this.#wrongSid(msg.streamSid)) return;
        if (this.#handoffAt) this.#measureGap();
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
        // A stop while the Twilio REST update of a hand-off is in flight is the hand-off itself.
        if (!this.#ending) this.#outcome = this.#handingOff ? 'handed_off' : 'completed';
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
    this.#callStartedAt = this.#startAt;
    this.#lastActivityAt = this.#startAt;
    const params = s.customParameters;
    this.#resumed = params[RESUMED_PARAM] === '1';
    if (this.#resumed) {
      this.#handoffAt = Number(params[HANDOFF_AT_PARAM]) || 0;
      const started = Number(params[STARTED_AT_PARAM]);
      if (started > 0 && started <= this.#startAt) this.#callStartedAt = started;
    }
    this.#log = d.log.child({ callSid: s.callSid, streamSid: s.streamSid });
    if (s.callSid !== this.pathCallSid)
      this.#log.warn({ pathCallSid: this.pathCallSid }, 'callSid differs from the stream path');
    this.#log.info(
      { from: maskPhone(this.#from), to: maskPhone(this.#to), resumed: this.#resumed || undefined },
      'media stream started',
    );

    const breaker = d.backends.breaker();
    if (!breaker.tryAcquire()) {
      this.#log.warn({ provider: d.backends.provider }, 'circuit open: caller gets the fallback');
      return this.#redirect(fallbackTwiml(d.config.calls.fallback), 'circuit_open');
    }
    const backend = d.backends.create(this.#sink, d.memory !== undefined);
    this.#backend = backend;
    let resumed: { transcript: TranscriptTurn[] } | undefined;
    if (this.#resumed) {
      const record = d.memory ? await this.#takeHandoff(d.memory) : null;
      d.metrics.handoffs.labels(record ? 'resumed' : 'resumed_without_record').inc();
      if (record) {
        this.#context = record.context;
        this.#handoffs = record.handoffs;
        const started = Date.parse(record.startedAt);
        if (started > 0 && started <= this.#startAt) this.#callStartedAt = started;
        this.#transcript.push(...record.transcript.slice(-MAX_TRANSCRIPT_TURNS));
      } else {
        this.#log.warn('resumed stream without a hand-off record: continuing without the transcript');
        if (d.memory && this.#from) this.#context = await this.#lookup(d.memory, this.#from);
      }
      // Mid-call: the caller has been greeted already, with or without the transcript.
      resumed = { transcript: [...this.#transcript] };
    } else if (d.memory && this.#from) this.#context = await this.#lookup(d.memory, this.#from);
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
        resumed,
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

  async #takeHandoff(memory: CallerMemory): Promise<HandoffRecord | null> {
    if (!memory.takeHandoff) return null;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((r) => {
      timer = setTimeout(() => r(null), HANDOFF_LOAD_TIMEOUT_MS);
    });
    try {
      return await Promise.race([
        memory.takeHandoff(this.callSid).catch((err: unknown) => {
          this.#log.warn({ err: (err as Error).message }, 'hand-off record could not be read');
          return null;
        }),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  #measureGap(): void {
    const gap = (Date.now() - this.#handoffAt) / 1000;
    this.#handoffAt = 0;
    if (gap >= 0 && gap < 600) this.#d.metrics.handoffGap.observe(gap);
    this.#log.info(
      { gapMs: Math.round(gap * 1000) },
      'resumed stream: first caller audio after the hand-off',
    );
  }

  async #lookup(memory: CallerMemory, phone: string): Promise<CallerContext | null> {
    const budget = this.#d.config.memory.lookupBudgetMs;
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
        this.#transcript.push({ role, text, atMs: Date.now() - this.#callStartedAt });
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
      if (!this.#resumed) m.firstAudio.observe((now - this.#startAt) / 1000);
    }
    if (this.#awaitingResponseSince) {
      m.responseLatency.observe((now - this.#awaitingResponseSince) / 1000);
      this.#awaitingResponseSince = 0;
    }
    const ms = (payload.length * 3) / 4 / 8;
    this.#agentAudioUntil = Math.max(now, this.#agentAudioUntil) + ms;
    this.#lastActivityAt = now;
    // The chunk and its mark stay two WebSocket messages but leave in one write (one syscall).
    const socket = (this.#ws as unknown as { _socket?: Socket })._socket;
    socket?.cork();
    try {
      this.#ws.send(mediaMessage(this.#streamSid, payload));
      this.#ws.send(markMessage(this.#streamSid, this.#marks.sent(itemId, ms)));
    } finally {
      socket?.uncork();
    }
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
    if (now - this.#callStartedAt >= calls.maxDurationSeconds * 1000) {
      this.endPolitely('max_duration');
    } else if (
      now - Math.max(this.#lastActivityAt, this.#agentAudioUntil) >= calls.silenceTimeoutSeconds * 1000 &&
      !this.#marks.pending
    ) {
      this.endPolitely('silence_timeout');
    }
  }

  /**
   * Drain hand-off: stores the conversation so far in caller memory, then re-points the call (Twilio
   * REST update) to a fresh stream through the load balancer, which lands on a pod that is not
   * draining. On success Twilio ends this stream; on any failure the call stays here (plain draining).
   */
  async handOff(o: { streamUrl: string; statusCallback: string }): Promise<HandoffResult> {
    if (this.#ending || this.#finished || this.#handingOff || !this.#startAt || !this.#backendReady)
      return 'not_live';
    const d = this.#d;
    const memory = d.memory;
    if (!memory?.saveHandoff) return 'no_memory';
    const rest = d.twilioRest;
    if (!rest) return 'no_rest';
    this.#handingOff = true;
    const record: HandoffRecord = {
      callSid: this.callSid,
      from: this.#from,
      to: this.#to,
      startedAt: new Date(this.#callStartedAt).toISOString(),
      transcript: [...this.#transcript],
      context: this.#context,
      handoffs: this.#handoffs + 1,
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        memory.saveHandoff(record),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('timed out')), HANDOFF_STORE_TIMEOUT_MS);
        }),
      ]);
    } catch (err) {
      this.#handingOff = false;
      this.#log.warn(
        { err: (err as Error).message },
        'hand-off record not stored: the call stays (plain draining)',
      );
      return 'store_failed';
    } finally {
      clearTimeout(timer);
    }
    if (this.#ending || this.#finished) {
      this.#handingOff = false;
      void memory.takeHandoff?.(this.callSid).catch(() => {});
      return 'not_live';
    }
    const twiml = connectStreamTwiml({
      streamUrl: o.streamUrl,
      statusCallback: o.statusCallback,
      parameters: {
        From: this.#from,
        To: this.#to,
        CallSid: this.callSid,
        [RESUMED_PARAM]: '1',
        [HANDOFF_AT_PARAM]: String(Date.now()),
        [STARTED_AT_PARAM]: String(this.#callStartedAt),
      },
    });
    const ok = await rest.updateCall(this.callSid, twiml);
    if (!ok) {
      this.#handingOff = false;
      void memory.takeHandoff?.(this.callSid).catch(() => {});
      this.#log.warn('Twilio REST update for the hand-off failed: the call stays (plain draining)');
      return 'rest_failed';
    }
    this.#log.info({ handoffs: record.handoffs, turns: record.transcript.length }, 'call handed off');
    if (this.#finished) return 'sent';
    this.#ending = true;
    this.#outcome = 'handed_off';
    this.#backendReady = false;
    this.#backend?.close();
    // Twilio ends the stream itself after the update; close after a grace period in case it does not.
    setTimeout(() => this.#ws.close(1000), 1500).unref();
    return 'sent';
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
    // A handed-off call goes on elsewhere: the pod where it really ends counts and records it, once.
    const handedOff = this.#outcome === 'handed_off';
    const endedAt = Date.now();
    if (!handedOff) {
      d.metrics.calls.labels(this.#outcome).inc();
      if (this.#startAt) d.metrics.callDuration.observe((endedAt - this.#callStartedAt) / 1000);
    }
    this.#log.info(
      {
        outcome: this.#outcome,
        durationMs: this.#startAt ? endedAt - this.#callStartedAt : 0,
        streamMs: this.#startAt ? endedAt - this.#startAt : undefined,
      },
      handedOff ? 'stream ended: call handed off' : 'call ended',
    );
    if (d.memory && this.#startAt && this.#from && !handedOff) {
      d.memory.record({
        callSid: this.callSid,
        from: this.#from,
        to: this.#to,
        startedAt: new Date(this.#callStartedAt).toISOString(),
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
