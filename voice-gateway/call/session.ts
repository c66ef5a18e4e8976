// One phone call: the Twilio media stream on one side, the agent backend on the other.
// The per-frame path parses the Twilio message once, splices the untouched base64 payload into the
// backend's message, and touches only preallocated state (no closures, timers or logs per frame).
// Until its `start` carries a valid stream credential (twilio/stream-credential.ts) a stream is not
// a call: it acts on nothing, and what it acts on afterwards (call sid, caller, REST, hand-off
// records) comes only from the credential's claims.
import type { RawData, WebSocket } from 'ws';
import { mulawPeak } from '../audio/mulaw.ts';
import type { BackendRegistry } from '../backends/registry.ts';
import { type AgentBackend, type BackendSink, type BackendStart, TRANSFER_TOOL } from '../backends/types.ts';
import type { CampaignCall, CampaignHooks } from '../campaign/gateway-hooks.ts';
import type { GatewayConfig } from '../config/schema.ts';
import { within } from '../lib/deadline.ts';
import { sendAsciiFrames } from '../lib/ws-frame.ts';
import { type Logger, maskPhone } from '../log.ts';
import type { CallerContext, CallerMemory, TranscriptTurn } from '../memory/types.ts';
import type { GatewayMetrics, MalformedReason } from '../metrics.ts';
import type { RecordingTap } from '../recording/recorder.ts';
import { MediaFrameReader } from '../twilio/media-frames.ts';
import {
  clearMessage,
  type InboundStart,
  isBase64,
  markMessage,
  mediaMessage,
} from '../twilio/media-protocol.ts';
import type { TwilioRest } from '../twilio/rest.ts';
import type { StreamClaims } from '../twilio/stream-credential.ts';
import { fallbackTwiml, goodbyeTwiml } from '../twilio/twiml.ts';
import {
  type ChainConnect,
  type ChainResult,
  connectChain,
  type FailoverReason,
  resumeTranscript,
  TurnAudio,
} from './failover.ts';
import { FramePolicy } from './frame-policy.ts';
import { type HandoffResult, loadHandoff, lookupCaller, sendHandoff } from './handoff.ts';
import { MarkTracker } from './marks.ts';
import type { CallOutcome, StreamRefusal } from './outcome.ts';
import { Reprompter } from './reprompt.ts';
import { decideTransfer, parseTransferRequest } from './transfer.ts';
import { UplinkChunker } from './uplink.ts';

export type { HandoffResult } from './handoff.ts';
export { RESUMED_PARAM } from './handoff.ts';

export interface SessionDeps {
  config: GatewayConfig;
  metrics: GatewayMetrics;
  log: Logger;
  backends: BackendRegistry;
  twilioRest: TwilioRest | undefined;
  memory: CallerMemory | undefined;
  /** Campaign calls: the recipient's variables, the opt-out digit and the do-not-call list. */
  campaigns?: CampaignHooks | undefined;
  /** The claims of the start's credential when it names exactly this stream's call, else why not. */
  authorize(pathCallSid: string, start: InboundStart): StreamClaims | StreamRefusal;
  /** A fresh credential (for the resumed stream of a hand-off). */
  issueCredential(claims: Omit<StreamClaims, 'expiresAt' | 'id'>): string;
  /** The whisper URL of a warm transfer's summary (calls.transfer); absent: no whisper. */
  whisperUrl?: ((summary: string) => string) | undefined;
  /** The stream became a call (its credential was accepted). */
  onStart(session: CallSession): void;
  onEnd(session: CallSession): void;
}

/** The largest frame a media stream accepts (enforced from the frame header, close 1009). */
export function streamMaxPayload(limits: GatewayConfig['limits']): number {
  return Math.max(limits.maxPayloadBytes, limits.startFrameBytes);
}

const SPEECH_PEAK = 1000;
const SPEECH_END_MS = 500;
/** Agent audio this long after the caller's last loud frame answers the caller (not a barge-in). */
const ANSWER_GAP_MS = 250;
const MAX_TRANSCRIPT_TURNS = 500;
/** Caller audio of an unanswered turn kept for a standby (decoded mu-law: about 20 s). */
const TURN_AUDIO_BYTES = 160 * 1024;
/** Longest wait for the agent's last words to play before a transfer's <Dial>. */
const TRANSFER_PLAYOUT_MS = 5000;

export class CallSession {
  readonly #ws: WebSocket;
  readonly #d: SessionDeps;
  readonly pathCallSid: string;
  #log: Logger;
  #streamSid: string | undefined;
  /** The call this stream acts on: the path's sid until start, then the credential's (the same). */
  callSid: string;
  #claims: StreamClaims | undefined;
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
  /** Caller audio chunks held until the backend answers (bounded: queueFrames, pendingAudioBytes). */
  #pending: string[] = [];
  #pendingBytes = 0;
  #pendingFrames = 0;
  readonly #marks = new MarkTracker();
  /** Caller audio towards the backend, `calls.uplinkChunkMs` at a time (uplink.ts). */
  readonly #uplink: UplinkChunker;
  /** performance.now() at which the frame being handled arrived (0 outside a frame's handler). */
  #frameAt = 0;
  readonly #policy: FramePolicy;
  #callerSpeaking = false;
  #lastSpeechAt = 0;
  #awaitingResponseSince = 0;
  #lastActivityAt = Date.now();
  #agentAudioUntil = 0;
  #lastAgentAudioAt = 0;
  #firstAudioSent = false;
  /** Keep-alive: something (a frame or a pong) arrived since the last ping. */
  #alive = true;
  #lastPingAt = Date.now();
  #malformedLogged = new Set<string>();
  #ending = false;
  #finished = false;
  #outcome: CallOutcome = 'dropped';
  #refused: StreamRefusal | undefined;
  #conversationId: string | undefined;
  #context: CallerContext | null = null;
  /** Call recording tap (voice-gateway/recording/): fed beside the relay, never awaited. */
  #recording: RecordingTap | undefined;
  #optOutDigit: string | undefined;
  readonly #transcript: TranscriptTurn[] = [];
  readonly #outboundLimit: number;
  readonly #queueCap: number;
  readonly #queueBytes: number;
  /** Failover (failover.ts): the start payload a standby resumes from, the unanswered turn, the gap. */
  #startInfo: BackendStart | undefined;
  /** Only with a standby to replay it to (a chain of one provider has nowhere to fail over to). */
  readonly #turn: TurnAudio | undefined;
  #backendSince = 0;
  #gapSince = 0;
  readonly #reprompt: Reprompter;
  /** Caller memory summary of a warm transfer (calls.transfer.summaryVia). */
  #recordSummary: string | undefined;
  #transferring = false;

  constructor(ws: WebSocket, pathCallSid: string, deps: SessionDeps) {
    this.#ws = ws;
    this.#d = deps;
    this.pathCallSid = pathCallSid;
    this.callSid = pathCallSid;
    this.#log = deps.log.child({ callSid: pathCallSid });
    const limits = deps.config.limits;
    this.#outboundLimit = limits.outboundBufferBytes;
    this.#queueCap = limits.queueFrames;
    this.#queueBytes = limits.pendingAudioBytes;
    this.#policy = new FramePolicy(limits);
    this.#turn = deps.backends.chain.length > 1 ? new TurnAudio(TURN_AUDIO_BYTES) : undefined;
    this.#reprompt = new Reprompter(deps.config.calls.reprompt);
    this.#uplink = new UplinkChunker(
      { sendUplink: (payload, frames) => this.#sendUplink(payload, frames) },
      deps.config.calls.uplinkChunkMs,
      Math.ceil((limits.mediaFrameBytes * 3) / 4),
    );
    // Twilio's frames are read straight off the socket (media-frames.ts); whatever that reader hands
    // back to ws (close, ping, anything unusual) arrives as ws's 'message' event, as before.
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary, performance.now()));
    MediaFrameReader.attach(ws, streamMaxPayload(limits), (payload) =>
      this.#onMessage(payload, false, performance.now()),
    );
    ws.on('pong', () => {
      this.#alive = true;
    });
    ws.on('close', (code) => this.#finish(code));
    ws.on('error', () => {});
  }

  get streamSid(): string | undefined {
    return this.#streamSid;
  }

  get ending(): boolean {
    return this.#ending;
  }

  /** True once the start's credential was accepted: the stream is a call. */
  get started(): boolean {
    return this.#startAt > 0;
  }

  // ---- Twilio side -------------------------------------------------------------------------

  #onMessage(data: RawData, isBinary: boolean, receivedAt: number): void {
    this.#d.metrics.frames.in++;
    this.#alive = true;
    if (this.#finished || this.#refused) return;
    const sid = this.#streamSid;
    const msg = this.#policy.admit(data, isBinary, receivedAt, sid !== undefined, sid);
    if (typeof msg === 'string') {
      this.#malformed(msg);
      return;
    }
    switch (msg.event) {
      case 'media':
        if (this.#wrongSid(msg.streamSid)) return;
        if (this.#handoffAt) this.#measureGap();
        // The fast path checked the payload already; only a JSON.parse'd media frame is checked here.
        if (!this.#policy.scanned && !isBase64(msg.payload)) {
          this.#malformed('missing_fields');
          return;
        }
        this.#callerAudio(msg.payload, receivedAt);
        return;
      case 'mark':
        if (this.#wrongSid(msg.streamSid)) return;
        this.#marks.echoed(msg.name);
        this.#uplink.flush();
        return;
      case 'dtmf':
        if (this.#wrongSid(msg.streamSid)) return;
        this.#log.info({ event: 'dtmf' }, 'caller pressed a key');
        this.#lastActivityAt = Date.now();
        this.#uplink.flush();
        if (this.#backendReady) this.#backend?.sendDtmf(msg.digit);
        if (this.#optOutDigit && msg.digit === this.#optOutDigit) this.#optOut('dtmf');
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

  /** Closes a stream that never became a call (counted by reason; no call outcome, no REST). */
  refuse(reason: StreamRefusal, terminate = false): void {
    if (this.#refused || this.#finished || this.#startAt) return;
    this.#refused = reason;
    this.#ending = true;
    this.#d.metrics.streamsRefused.labels(reason).inc();
    this.#log.warn({ reason }, 'media stream refused');
    if (terminate) this.#ws.terminate();
    else this.#ws.close(1008);
  }

  #callerAudio(payload: string, receivedAt: number): void {
    const now = Date.now();
    const up = this.#uplink;
    // The speech detector reads every frame where it was decoded: in the chunk on its way out.
    const at = up.add(payload, receivedAt);
    this.#recording?.caller(up.buffer.subarray(at, up.heldBytes), up.heldBytes - at);
    let onset = false;
    if (mulawPeak(up.buffer, up.heldBytes, 4, at) >= SPEECH_PEAK) {
      this.#lastSpeechAt = now;
      this.#lastActivityAt = now;
      if (!this.#callerSpeaking) {
        this.#callerSpeaking = true;
        this.#awaitingResponseSince = 0;
        this.#reprompt.callerSpoke();
        onset = true;
      }
    } else if (this.#callerSpeaking && now - this.#lastSpeechAt > SPEECH_END_MS) {
      this.#callerSpeaking = false;
      // Agent audio since the caller's last loud frame: the backend's VAD was faster, it answered already.
      if (this.#lastAgentAudioAt > this.#lastSpeechAt) this.#turn?.answered();
      else this.#awaitingResponseSince = this.#lastSpeechAt;
    }
    this.#turn?.push(up.buffer, at, up.heldBytes, this.#callerSpeaking);
    this.#frameAt = receivedAt;
    // Speech onset may be a barge-in: the backend hears it without waiting for the chunk to fill.
    if (onset) up.flush();
    else up.release();
    this.#frameAt = 0;
  }

  /** One chunk of caller audio (`frames` Twilio frames) to the backend, or held until it answers. */
  #sendUplink(payload: string, frames: number): boolean {
    const m = this.#d.metrics;
    if (this.#backendReady) {
      if (this.#backend?.sendAudio(payload)) {
        m.frames.to_backend += frames;
        if (this.#frameAt) m.relayLatency.observe('to_backend', this.#frameAt);
        return true;
      }
      m.dropped.backend_backpressure += frames;
      return false;
    }
    if (this.#ending) return false;
    if (
      this.#pendingFrames + frames <= this.#queueCap &&
      this.#pendingBytes + payload.length <= this.#queueBytes
    ) {
      this.#pending.push(payload);
      this.#pendingBytes += payload.length;
      this.#pendingFrames += frames;
      return true;
    }
    m.dropped.queue_full += frames;
    return false;
  }

  /**
   * Sends the caller audio held for the next chunk to the backend now. Called on a DTMF, a mark,
   * speech onset, the backend's interruption, the end of the stream and a hand-off; call it before
   * replacing the backend (failover) so the old one gets everything the caller said before the switch.
   */
  flushUplink(): void {
    this.#uplink.flush();
  }

  async #start(s: InboundStart): Promise<void> {
    const d = this.#d;
    const claims = d.authorize(this.pathCallSid, s);
    if (typeof claims === 'string') return this.refuse(claims);
    this.#claims = claims;
    this.#streamSid = s.streamSid;
    this.callSid = claims.callSid;
    this.#startAt = Date.now();
    this.#callStartedAt = this.#startAt;
    this.#lastActivityAt = this.#startAt;
    this.#resumed = claims.handoffAt !== undefined;
    if (this.#resumed) {
      this.#handoffAt = claims.handoffAt ?? 0;
      const started = claims.startedAt ?? 0;
      if (started > 0 && started <= this.#startAt) this.#callStartedAt = started;
    }
    d.metrics.activeCalls.inc();
    d.onStart(this);
    this.#recording = d.memory?.openRecording?.({
      callSid: claims.callSid,
      streamSid: s.streamSid,
      from: claims.from,
    });
    this.#log = d.log.child({ callSid: claims.callSid, streamSid: s.streamSid });
    this.#log.info(
      { from: maskPhone(claims.from), to: maskPhone(claims.to), resumed: this.#resumed || undefined },
      'media stream started',
    );

    // Both lookups run at once, each bounded by the lookup budget: a campaign call's variables never
    // delay the greeting beyond what the caller's memory may.
    const campaign =
      d.campaigns && !this.#resumed ? this.#loadCampaign(d.campaigns, claims.callSid) : undefined;
    const resumed = d.memory ? await this.#loadContext(d.memory, claims.from) : undefined;
    const call = await campaign;
    if (call) {
      this.#optOutDigit = call.optOutDigit;
      this.#context = {
        ...(this.#context ?? { callerId: '', returning: false, callCount: 0, profile: {}, memories: [] }),
        variables: call.variables,
      };
    }
    if (!d.memory && this.#resumed) d.metrics.handoffs.labels('resumed_without_record').inc();
    if (this.#finished) return;
    this.#startInfo = {
      callSid: this.callSid,
      streamSid: s.streamSid,
      from: claims.from,
      to: claims.to,
      context: this.#context,
      resumed: this.#resumed ? (resumed ?? { transcript: [] }) : undefined,
    };
    const r = await this.#connect(this.#startInfo);
    if (!r.backend) {
      if (this.#finished || this.#ending) return;
      this.#log.warn({ reason: r.reason }, 'no agent backend takes the call: caller gets the fallback');
      const outcome = r.reason === 'circuit_open' ? 'circuit_open' : 'backend_unavailable';
      return this.#redirect(fallbackTwiml(d.config.calls.fallback), outcome);
    }
    this.#attach(r.backend, false);
  }

  /** The backend chain for this call (at start, and after `failed` on a failover). */
  #connect(start: BackendStart, failed?: ChainConnect['failed']): Promise<ChainResult> {
    const d = this.#d;
    return connectChain({
      registry: d.backends,
      metrics: d.metrics,
      log: this.#log,
      sink: this.#sink,
      withMemoryTool: d.memory !== undefined,
      start,
      ...(failed ? { failed } : {}),
      alive: () => !this.#finished && !this.#ending,
      trying: (backend) => {
        this.#backend = backend;
      },
    });
  }

  /**
   * The single point where a call takes a backend (at start and on failover): from here caller audio
   * flows to it. Audio queued meanwhile is flushed first; on a failover with an unanswered caller turn,
   * that turn's audio (which covers the queued audio) is replayed instead so the standby answers it.
   */
  #attach(backend: AgentBackend, replayTurn: boolean): void {
    const d = this.#d;
    this.#backend = backend;
    this.#backendReady = true;
    this.#backendSince = Date.now();
    const queued = replayTurn && this.#turn?.pending ? this.#turn.take() : this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#pendingFrames = 0;
    // Chunks as queued (frame counts are not kept per chunk: each counts as one message here).
    for (const p of queued) {
      if (backend.sendAudio(p)) d.metrics.frames.to_backend++;
      else d.metrics.dropped.backend_backpressure++;
    }
  }

  /**
   * The backend dropped or stalled mid-call: the call moves to the next backend of the chain (same
   * pod), which resumes with the transcript so far and the caller's memory, without a greeting. Only
   * when no backend takes it does the caller get calls.fallback.
   */
  async #failover(reason: FailoverReason, err?: Error): Promise<void> {
    const old = this.#backend;
    const start = this.#startInfo;
    if (!old || !start || !this.#backendReady || this.#ending || this.#finished) return;
    const d = this.#d;
    const failedAt = Date.now();
    this.#backendReady = false;
    this.#backend = undefined;
    // Caller audio held for the next chunk joins the queue the standby receives (issue 23's seam).
    this.flushUplink();
    old.close();
    d.backends.breaker(old.provider).failure();
    d.metrics.backendErrors.labels(old.provider).inc();
    this.#log.warn({ provider: old.provider, reason, err: err?.message }, 'agent backend failed mid-call');
    const pendingTurn = this.#turn?.pending ?? false;
    const r = await this.#connect(
      { ...start, resumed: { transcript: resumeTranscript(this.#transcript, pendingTurn) } },
      { provider: old.provider, reason },
    );
    if (!r.backend) {
      if (this.#finished || this.#ending) return;
      this.#log.error('every agent backend is down: caller gets the fallback');
      return this.#redirect(fallbackTwiml(d.config.calls.fallback), 'backend_failed');
    }
    this.#attach(r.backend, true);
    // The caller waiting for an answer perceives the gap until the standby speaks; otherwise until it is up.
    if (pendingTurn) this.#gapSince = failedAt;
    else d.metrics.failoverGap.observe((Date.now() - failedAt) / 1000);
  }

  /**
   * The caller's memory (or, on a resumed stream, the hand-off record) for the credential's caller
   * only; returns the transcript so far of a resumed call.
   */
  async #loadContext(
    memory: CallerMemory,
    from: string,
  ): Promise<{ transcript: TranscriptTurn[] } | undefined> {
    const d = this.#d;
    const budget = d.config.memory.lookupBudgetMs;
    const lookup = async () => {
      if (!from) return;
      this.#context = await lookupCaller(memory, from, budget);
      d.metrics.memoryLookups.labels(this.#context ? 'hit' : 'miss').inc();
    };
    if (!this.#resumed) {
      await lookup();
      return undefined;
    }
    const record = await loadHandoff(memory, this.callSid, this.#log);
    d.metrics.handoffs.labels(record ? 'resumed' : 'resumed_without_record').inc();
    if (record) {
      this.#context = record.context;
      this.#handoffs = record.handoffs;
      const started = Date.parse(record.startedAt);
      if (started > 0 && started <= this.#startAt) this.#callStartedAt = started;
      this.#transcript.push(...record.transcript.slice(-MAX_TRANSCRIPT_TURNS));
    } else {
      this.#log.warn('resumed stream without a hand-off record: continuing without the transcript');
      await lookup();
    }
    // Mid-call: the caller has been greeted already, with or without the transcript.
    return { transcript: [...this.#transcript] };
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
      if (this.#ending || this.#finished) return;
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
    failed: (err) => void this.#failover('dropped', err),
  };

  #agentAudio(payload: string, itemId: string | undefined, receivedAt: number): void {
    const m = this.#d.metrics;
    m.frames.from_backend++;
    if (this.#ending || this.#finished || !this.#streamSid) return;
    if (!this.#backend?.checksAudio && !isBase64(payload)) {
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
    if (this.#callerSpeaking && now - this.#lastSpeechAt > ANSWER_GAP_MS) {
      // The backend's VAD ended the caller's turn before ours did: this audio is its answer.
      this.#callerSpeaking = false;
      this.#awaitingResponseSince = this.#lastSpeechAt;
    }
    if (this.#awaitingResponseSince) {
      m.responseLatency.observe((now - this.#awaitingResponseSince) / 1000);
      this.#awaitingResponseSince = 0;
    }
    if (!this.#callerSpeaking) this.#turn?.answered();
    if (this.#gapSince) {
      m.failoverGap.observe((now - this.#gapSince) / 1000);
      this.#gapSince = 0;
    }
    const ms = (payload.length * 3) / 4 / 8;
    this.#lastAgentAudioAt = now;
    this.#agentAudioUntil = Math.max(now, this.#agentAudioUntil) + ms;
    this.#lastActivityAt = now;
    // The chunk and its mark stay two WebSocket messages but leave in one write (one syscall).
    const media = mediaMessage(this.#streamSid, payload);
    const mark = markMessage(this.#streamSid, this.#marks.sent(itemId, ms));
    sendAsciiFrames(this.#ws, media, mark);
    this.#recording?.agent(payload);
    m.frames.out += 2;
    m.relayLatency.observe('to_caller', receivedAt);
  }

  #interrupted(): void {
    if (!this.#streamSid || this.#ending || this.#finished) return;
    this.#uplink.flush();
    const item = this.#marks.currentItem;
    const unheard = this.#marks.pending;
    const played = this.#marks.playedMs(item);
    this.#ws.send(clearMessage(this.#streamSid));
    this.#d.metrics.frames.out++;
    this.#recording?.clear();
    this.#marks.cleared();
    this.#agentAudioUntil = 0;
    if (unheard && item !== undefined) this.#backend?.truncate?.(item, played);
    this.#log.info(
      { event: 'barge_in', truncatedAtMs: unheard ? played : undefined },
      'caller interrupted the agent',
    );
  }

  /** A campaign call: the recipient's variables join the agent's context (bounded by the lookup budget). */
  async #loadCampaign(campaigns: CampaignHooks, callSid: string): Promise<CampaignCall | undefined> {
    try {
      return await within(campaigns.call(callSid), this.#d.config.memory.lookupBudgetMs, () => undefined);
    } catch (err) {
      this.#log.warn({ err: String(err) }, 'campaign variables unavailable');
      return undefined;
    }
  }

  /** The recipient asked not to be called again: the do-not-call list every campaign honours. */
  #optOut(source: 'dtmf' | 'agent'): Promise<boolean> {
    const from = this.#claims?.from;
    const campaigns = this.#d.campaigns;
    if (!from || !campaigns) return Promise.resolve(false);
    this.#log.info({ event: 'opt_out', source }, 'caller opted out of campaign calls');
    return campaigns.optOut(from, source).then(
      () => true,
      (err) => {
        this.#log.warn({ err: String(err) }, 'could not record the opt-out');
        return false;
      },
    );
  }

  async #toolCall(name: string, id: string, params: Record<string, unknown>): Promise<void> {
    const backend = this.#backend;
    if (!backend) return;
    if (name === TRANSFER_TOOL) return this.#transfer(backend, id, params);
    if (name === 'opt_out') {
      const ok = await this.#optOut('agent');
      return backend.toolResult(
        id,
        ok ? 'recorded: this number will not be called again' : 'opt-out unavailable',
        !ok,
      );
    }
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

  /** The agent asked for a human (transfer.ts): a configured target only, else the agent is told. */
  #transfer(backend: AgentBackend, id: string, params: Record<string, unknown>): void {
    const d = this.#d;
    if (this.#ending || this.#finished) return;
    if (this.#transferring) {
      backend.toolResult(id, 'A transfer is already under way.', true);
      return;
    }
    const decision = decideTransfer(
      d.config.calls.transfer,
      parseTransferRequest(params),
      this.#transcript,
      d.whisperUrl,
    );
    if (!decision.ok) {
      d.metrics.transfers.labels(decision.result).inc();
      this.#log.warn({ result: decision.result }, 'transfer request refused');
      backend.toolResult(id, decision.message, true);
      return;
    }
    this.#transferring = true;
    backend.toolResult(id, `Transferring the caller to ${decision.target}.`, false);
    this.#recordSummary = decision.memorySummary;
    this.#log.info(
      {
        target: decision.target,
        warm: decision.memorySummary !== undefined || decision.whisper !== undefined,
      },
      'transferring the call to a human',
    );
    // The agent's last words play out (bounded) before Twilio takes the call.
    const wait = Math.min(Math.max(0, this.#agentAudioUntil - Date.now()), TRANSFER_PLAYOUT_MS);
    setTimeout(() => {
      this.#redirect(decision.twiml, 'transferred', (ok) =>
        d.metrics.transfers.labels(ok ? 'transferred' : 'rest_failed').inc(),
      );
    }, wait).unref();
  }

  // ---- ending ------------------------------------------------------------------------------

  /**
   * Called four times a second by the stream server's shared ticker: the start deadline, keep-alive
   * pings, and the call's own limits. False when the stream was closed for being dead or late.
   */
  tick(now: number): boolean {
    if (this.#finished) return true;
    const limits = this.#d.config.limits;
    if (!this.#startAt && !this.#refused && now - this.connectedAt >= limits.startTimeoutMs) {
      this.refuse('start_timeout', true);
      return false;
    }
    if (now - this.#lastPingAt >= limits.pingIntervalMs) {
      this.#lastPingAt = now;
      if (!this.#alive) {
        this.#log.warn('media stream peer answered no ping for a whole interval: closing');
        if (!this.#startAt) this.refuse('dead_peer', true);
        else this.#ws.terminate();
        return false;
      }
      this.#alive = false;
      this.#ws.ping();
    }
    if (this.#ending || !this.#startAt) return true;
    this.#watchBackend(now);
    const calls = this.#d.config.calls;
    if (now - this.#callStartedAt >= calls.maxDurationSeconds * 1000) {
      this.endPolitely('max_duration');
    } else if (
      now - Math.max(this.#lastActivityAt, this.#agentAudioUntil) >= calls.silenceTimeoutSeconds * 1000 &&
      !this.#marks.pending
    ) {
      this.endPolitely('silence_timeout');
    }
    return true;
  }

  /** Stall detection (agent.stallSeconds) and silence re-prompts (calls.reprompt), from the ticker. */
  #watchBackend(now: number): void {
    const backend = this.#backend;
    if (!this.#backendReady || !backend) return;
    const lastEvent = backend.lastEventAt;
    if (this.#awaitingResponseSince && lastEvent !== undefined) {
      const since = Math.max(this.#awaitingResponseSince, lastEvent, this.#backendSince);
      // A stall moves the call only where a standby can take it: a slow backend beats no backend.
      if (now - since >= this.#d.config.agent.stallSeconds * 1000 && this.#standbyAvailable(backend)) {
        void this.#failover('stalled');
        return;
      }
    }
    if (this.#callerSpeaking || this.#awaitingResponseSince || this.#marks.pending || !backend.reprompt)
      return;
    if (this.#reprompt.due(now, Math.max(this.#lastActivityAt, this.#agentAudioUntil))) {
      this.#d.metrics.reprompts.inc();
      this.#log.info({ count: this.#reprompt.count }, 'caller silent: re-prompting');
      backend.reprompt(this.#reprompt.instruction);
    }
  }

  #standbyAvailable(current: AgentBackend): boolean {
    const b = this.#d.backends;
    return b.chain.some((p) => p !== current.provider && b.breaker(p).allowsCalls);
  }

  /**
   * Drain hand-off: stores the conversation so far in caller memory, then re-points the call (Twilio
   * REST update) to a fresh stream through the load balancer, which lands on a pod that is not
   * draining. On success Twilio ends this stream; on any failure the call stays here (plain draining).
   */
  async handOff(o: { streamUrl: string; statusCallback: string }): Promise<HandoffResult> {
    const claims = this.#claims;
    if (this.#ending || this.#finished || this.#handingOff || !claims || !this.#backendReady)
      return 'not_live';
    const d = this.#d;
    if (!d.memory?.saveHandoff) return 'no_memory';
    if (!d.twilioRest) return 'no_rest';
    this.#handingOff = true;
    const result = await sendHandoff({
      ...o,
      claims,
      memory: d.memory,
      rest: d.twilioRest,
      issueCredential: d.issueCredential,
      live: () => !this.#ending && !this.#finished,
      log: this.#log,
      record: {
        callSid: claims.callSid,
        from: claims.from,
        to: claims.to,
        startedAt: new Date(this.#callStartedAt).toISOString(),
        transcript: [...this.#transcript],
        context: this.#context,
        handoffs: this.#handoffs + 1,
      },
    });
    if (result !== 'sent') this.#handingOff = false;
    if (result !== 'sent' || this.#finished) return result;
    this.#ending = true;
    this.#outcome = 'handed_off';
    this.#uplink.flush();
    this.#backendReady = false;
    this.#backend?.close();
    // Twilio ends the stream itself after the update; close after a grace period in case it does not.
    setTimeout(() => this.#ws.close(1000), 1500).unref();
    return 'sent';
  }

  /** Ends the call with a goodbye (Twilio REST redirect), not a cut. */
  endPolitely(outcome: CallOutcome): void {
    this.#redirect(goodbyeTwiml(this.#d.config.calls.goodbye), outcome);
  }

  #redirect(twiml: string, outcome: CallOutcome, onResult?: (ok: boolean) => void): void {
    if (this.#ending || this.#finished) return;
    this.#ending = true;
    this.#outcome = outcome;
    this.#uplink.flush();
    this.#backendReady = false;
    this.#backend?.close();
    this.#log.info({ outcome }, 'ending the call through Twilio');
    const rest = this.#d.twilioRest;
    // Only a call whose credential was accepted is ever touched through the REST API.
    if (!rest || !this.#claims) {
      onResult?.(false);
      this.#ws.close(1000);
      return;
    }
    void rest.updateCall(this.#claims.callSid, twiml).then((ok) => {
      onResult?.(ok);
      if (!ok) this.#log.error({ outcome }, 'Twilio REST call update failed; closing the stream');
      // Twilio ends the stream itself after the update; close after a grace period in case it does not.
      setTimeout(() => this.#ws.close(1000), ok ? 1500 : 0).unref();
    });
  }

  #finish(code: number): void {
    if (this.#finished) return;
    this.#finished = true;
    const d = this.#d;
    this.#uplink.close(this.#backendReady);
    this.#backendReady = false;
    this.#backend?.close();
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#recording?.close();
    this.#turn?.close();
    this.#pendingFrames = 0;
    const claims = this.#claims;
    if (!claims || !this.#startAt) {
      // Never a call: no outcome, no record (refusals were counted when they happened).
      if (code === 1009) this.#malformed('oversize');
      d.onEnd(this);
      return;
    }
    if (!this.#ending) {
      d.metrics.websocketDrops.inc();
      if (code === 1009) this.#malformed('oversize');
    }
    d.metrics.activeCalls.dec();
    // A handed-off call goes on elsewhere: the pod where it really ends counts and records it, once.
    const handedOff = this.#outcome === 'handed_off';
    const endedAt = Date.now();
    if (!handedOff) {
      d.metrics.calls.labels(this.#outcome).inc();
      d.metrics.callDuration.observe((endedAt - this.#callStartedAt) / 1000);
    }
    this.#log.info(
      {
        outcome: this.#outcome,
        durationMs: endedAt - this.#callStartedAt,
        streamMs: endedAt - this.#startAt,
      },
      handedOff ? 'stream ended: call handed off' : 'call ended',
    );
    if (d.memory && claims.from && !handedOff) {
      d.memory.record({
        callSid: claims.callSid,
        from: claims.from,
        to: claims.to,
        startedAt: new Date(this.#callStartedAt).toISOString(),
        endedAt: new Date(endedAt).toISOString(),
        outcome: this.#outcome,
        transcript: this.#transcript,
        ...(this.#recordSummary ? { summary: this.#recordSummary } : {}),
      });
    }
    d.onEnd(this);
  }

  get conversationId(): string | undefined {
    return this.#conversationId;
  }
}
