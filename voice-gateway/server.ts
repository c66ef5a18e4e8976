// HTTP + WebSocket wiring: Twilio webhooks, the media-stream upgrade, health, status and metrics.
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import { BackendRegistry } from './backends/registry.ts';
import type { BackendSecrets } from './backends/types.ts';
import { type CallOutcome, FAILED_OUTCOMES } from './call/outcome.ts';
import type { CallSession, HandoffResult } from './call/session.ts';
import { StreamServer } from './call/stream-server.ts';
import { ATTEMPT_PARAM, isAttemptId } from './campaign/attempts.ts';
import type { CampaignHooks } from './campaign/gateway-hooks.ts';
import { outboundAnswer, recordRefusal } from './campaign/outbound.ts';
import type { GatewayConfig } from './config/schema.ts';
import { drainCalls } from './drain.ts';
import { GatewayLink } from './gateway-link.ts';
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from './http/limits.ts';
import {
  createDoorServer,
  type DoorName,
  firstValue,
  type Handler,
  type HttpRequest,
  type HttpResponse,
  type Route,
  text,
} from './http/router.ts';
import { HttpMetrics } from './http-metrics.ts';
import type { Logger } from './log.ts';
import { maskPhone } from './log.ts';
import type { CallerMemory } from './memory/types.ts';
import { GatewayMetrics } from './metrics.ts';
import type { GatewayStatus } from './status.ts';
import { TwilioRest } from './twilio/rest.ts';
import { type SignatureParams, validateSignature } from './twilio/signature.ts';
import {
  MAX_PARTY_LENGTH,
  STREAM_CREDENTIAL_PARAM,
  StreamCredentials,
  streamKeyProblem,
} from './twilio/stream-credential.ts';
import { connectStreamTwiml, fallbackTwiml, whisperTwiml } from './twilio/twiml.ts';
import { WHISPER_PATH, WhisperTokens } from './twilio/whisper-token.ts';

export type WebhookRequest = HttpRequest;
export type WebhookResponse = HttpResponse;
export type WebhookHandler = (req: HttpRequest) => Promise<HttpResponse>;
/** A handler that owns a path prefix; answers undefined for paths it does not serve. */
export type ApiHandler = Handler;

/** elevenlabs-native mode webhooks, supplied by caller memory; each route answers 404 when absent. */
export interface ElevenLabsWebhookHandlers {
  conversationInit?: WebhookHandler;
  searchMemory?: WebhookHandler;
  postCall?: WebhookHandler;
}

export interface GatewaySecrets extends BackendSecrets {
  twilioAuthToken: string;
  twilioAccountSid?: string | undefined;
  /** Per-VoiceAgent key of the stream credentials (env CALLFLEET_STREAM_KEY); required in twilio-stream mode. */
  streamKey?: string | undefined;
}

export interface GatewayOptions {
  config: GatewayConfig;
  secrets: GatewaySecrets;
  log: Logger;
  metrics?: GatewayMetrics;
  memory?: CallerMemory | undefined;
  webhooks?: ElevenLabsWebhookHandlers | undefined;
  /** Served under /memory/ on the internal port (the data-rights API, behind its own bearer token). */
  memoryApi?: ApiHandler | undefined;
  /** Required dependencies (e.g. caller memory configured as required); false = readiness 503. */
  dependenciesReady?: (() => boolean) | undefined;
  /** Further registries appended to /metrics (e.g. prom-client's default one, caller-memory metrics). */
  extraRegistries?: Registry[] | undefined;
  /** Twilio REST base URL (env TWILIO_API_BASE_URL wins over config). */
  twilioApiBaseUrl?: string | undefined;
  /** Sent as X-Callfleet-Pod on media-stream upgrades (which pod took a call; env HOSTNAME). */
  podName?: string | undefined;
  /** The pod's namespace (env POD_NAMESPACE) and the operator's notice URL: the operator link (ADR 0021). */
  podNamespace?: string | undefined;
  operatorNoticeUrl?: string | undefined;
  /** Body size and time limits of both doors (defaults: DEFAULT_HTTP_LIMITS). */
  http?: Partial<HttpLimits> | undefined;
  /** Campaign calls (outbound): progress, variables, opt-out; present when caller memory is. */
  campaigns?: CampaignHooks | undefined;
}

export class Gateway {
  /** The public door: Twilio / ElevenLabs webhooks, media-stream upgrades, health. */
  readonly server: Server;
  /** The internal door (rule 10): health, status, metrics, the data-rights API. */
  readonly internalServer: Server;
  readonly metrics: GatewayMetrics;
  readonly #o: GatewayOptions;
  readonly #streams: StreamServer;
  readonly #backends: BackendRegistry;
  readonly #rest: TwilioRest | undefined;
  readonly #endListeners = new Set<() => void>();
  readonly #wssBase: string;
  readonly #httpBase: string;
  readonly #whispers: WhisperTokens | undefined;
  #draining = false;
  readonly #link: GatewayLink;

  constructor(o: GatewayOptions) {
    this.#o = o;
    this.metrics = o.metrics ?? new GatewayMetrics();
    this.#backends = new BackendRegistry(o.config, o.secrets, this.metrics);
    this.#httpBase = o.config.publicBaseUrl.replace(/\/+$/, '');
    this.#wssBase = this.#httpBase.replace(/^http/, 'ws');
    const restBase = o.twilioApiBaseUrl ?? o.config.twilio?.apiBaseUrl ?? 'https://api.twilio.com';
    if (o.secrets.twilioAccountSid && o.secrets.twilioAuthToken) {
      this.#rest = new TwilioRest({
        accountSid: o.secrets.twilioAccountSid,
        authToken: o.secrets.twilioAuthToken,
        baseUrl: restBase,
      });
    }
    this.metrics.draining.set(0);
    this.metrics.activeCalls.set(0);
    this.metrics.capacity.set(o.config.calls.maxConcurrentPerPod);
    const keyProblem = streamKeyProblem(o.secrets.streamKey);
    if (keyProblem && o.config.telephony === 'twilio-stream')
      throw new Error(`CALLFLEET_STREAM_KEY: ${keyProblem} (required in twilio-stream mode)`);
    if (!keyProblem) this.#whispers = new WhisperTokens(o.secrets.streamKey as string);
    const whispers = this.#whispers;
    this.#streams = new StreamServer({
      whisperUrl: whispers && ((summary) => `${this.#httpBase}${WHISPER_PATH}${whispers.seal(summary)}`),
      config: o.config,
      metrics: this.metrics,
      log: o.log,
      backends: this.#backends,
      rest: this.#rest,
      memory: o.memory,
      campaigns: o.campaigns,
      // elevenlabs-native mode serves no streams: a random key refuses every stream credential.
      credentials: new StreamCredentials(
        keyProblem ? randomBytes(32).toString('base64') : (o.secrets.streamKey as string),
      ),
      twilioAuthToken: o.secrets.twilioAuthToken,
      wssBase: this.#wssBase,
      podName: o.podName,
      onCallStarted: (callSid) => this.#link.presence.started(callSid),
      onCallEnded: () => {
        this.#link.presence.changed();
        for (const l of this.#endListeners) l();
      },
    });
    this.#link = new GatewayLink({
      liveCalls: () => this.activeCalls,
      draining: () => this.#draining,
      capacity: o.config.calls.maxConcurrentPerPod,
      streamKey: keyProblem ? undefined : o.secrets.streamKey,
      podName: o.podName,
      podNamespace: o.podNamespace,
      noticeUrl: o.operatorNoticeUrl,
      log: o.log,
    });
    const limits = { ...DEFAULT_HTTP_LIMITS, ...o.http };
    const http = new HttpMetrics(this.metrics.registry);
    const door = (name: DoorName, routes: Route[]) =>
      createDoorServer({
        name,
        routes,
        limits,
        log: o.log,
        onReject: (reason) => this.metrics.httpRejected.labels(name, reason).inc(),
        onRequest: (req, res) => http.observe(req, res),
      });
    this.server = door('public', this.#publicRoutes());
    this.internalServer = door('internal', this.#internalRoutes());
    this.server.on('upgrade', (req, socket, head) => this.#streams.upgrade(req, socket, head));
  }

  /** Every open media stream (also those whose start has not been accepted yet). */
  get sessions(): ReadonlySet<CallSession> {
    return this.#streams.sessions;
  }

  /** Live calls: streams whose credential was accepted. */
  get activeCalls(): number {
    return this.#streams.calls;
  }

  get draining(): boolean {
    return this.#draining;
  }

  get capacity(): number {
    return this.#o.config.calls.maxConcurrentPerPod;
  }

  /** Opens the public door (PORT). */
  listen(port: number, host: string): Promise<number> {
    return listenOn(this.server, port, host);
  }

  /** Opens the internal door (CALLFLEET_INTERNAL_PORT). */
  listenInternal(port: number, host: string): Promise<number> {
    return listenOn(this.internalServer, port, host);
  }

  /** Starts draining; resolves when the last call ended or the grace period is spent. */
  async drain(): Promise<'drained' | 'deadline'> {
    this.#draining = true;
    this.metrics.draining.set(1);
    this.#link.presence.changed();
    this.#o.log.info(
      { activeCalls: this.activeCalls },
      'draining: readiness 503, new calls get the fallback',
    );
    const d = this.#o.config.drain;
    const result = await drainCalls(
      {
        activeCalls: () => this.activeCalls,
        endAllPolitely: (outcome) => {
          for (const s of this.sessions) if (s.started) s.endPolitely(outcome as CallOutcome);
        },
        onCallEnded: (l) => {
          this.#endListeners.add(l);
          return () => this.#endListeners.delete(l);
        },
      },
      {
        gracePeriodMs: d.gracePeriodSeconds * 1000,
        goodbyeLeadMs: d.goodbyeLeadSeconds * 1000,
        handoff: d.handoff?.enabled
          ? { atMs: d.handoff.deadlineSeconds * 1000, run: () => void this.handOffAll() }
          : undefined,
      },
    );
    // Streams that never became calls never delay a drain, and end with it.
    this.#streams.closeUnstarted();
    return result;
  }

  /**
   * Hands every live call to another pod (drain.handoff); a call whose hand-off fails stays here and
   * drains as before. Resolves with the count per result.
   */
  async handOffAll(): Promise<Partial<Record<HandoffResult, number>>> {
    const sessions = [...this.sessions].filter((s) => s.started);
    this.#o.log.info({ activeCalls: sessions.length }, 'hand-off deadline: handing live calls to other pods');
    const results = await Promise.all(
      sessions.map((s) =>
        s.handOff({
          streamUrl: `${this.#wssBase}/twilio/stream/${s.callSid}`,
          statusCallback: `${this.#httpBase}/twilio/stream-status`,
        }),
      ),
    );
    const counts: Partial<Record<HandoffResult, number>> = {};
    for (const r of results) {
      counts[r] = (counts[r] ?? 0) + 1;
      if (r !== 'not_live') this.metrics.handoffs.labels(r).inc();
    }
    this.#o.log.info({ results: counts }, 'hand-off done');
    return counts;
  }

  /** The operator link (call presence, notices, retire). */
  get link(): GatewayLink {
    return this.#link;
  }

  async close(): Promise<void> {
    this.#link.close();
    this.#streams.close();
    await Promise.all(
      [this.server, this.internalServer].map(
        (server) =>
          new Promise<void>((r) => {
            if (!server.listening) return r();
            server.close(() => r());
            server.closeAllConnections();
          }),
      ),
    );
  }

  // ---- HTTP --------------------------------------------------------------------------------

  #publicRoutes(): Route[] {
    const wh = this.#o.webhooks;
    const post = (name: string, path: string, handler: Handler): Route => ({
      name,
      methods: ['POST'],
      path,
      handler,
    });
    return [
      ...this.#healthRoutes(),
      post('twilio_voice', '/twilio/voice', (r) => this.#voiceWebhook(r)),
      post('twilio_stream_status', '/twilio/stream-status', (r) => this.#streamStatus(r)),
      {
        name: 'twilio_whisper',
        methods: ['POST'],
        path: WHISPER_PATH,
        prefix: true,
        handler: (r) => this.#whisper(r),
      },
      post('twilio_call_status', '/twilio/call-status', (r) => this.#callStatus(r)),
      post('elevenlabs_conversation_init', '/elevenlabs/conversation-init', (r) => wh?.conversationInit?.(r)),
      post('elevenlabs_search_memory', '/elevenlabs/tools/search-memory', (r) => wh?.searchMemory?.(r)),
      post('elevenlabs_post_call', '/elevenlabs/post-call', (r) => wh?.postCall?.(r)),
    ];
  }

  #internalRoutes(): Route[] {
    const api = this.#o.memoryApi;
    return [
      ...this.#healthRoutes(),
      { name: 'status', methods: ['GET'], path: '/status', handler: () => this.#status() },
      { name: 'metrics', methods: ['GET'], path: '/metrics', handler: () => this.#metricsText() },
      { name: 'retire', methods: ['POST'], path: '/retire', handler: (r) => this.#link.retire(r) },
      ...(api
        ? [{ name: 'memory_api', methods: ['GET', 'POST'], path: '/memory/', prefix: true, handler: api }]
        : []),
    ];
  }

  /** On both doors: kubelet probes the public port; the internal one answers too. */
  #healthRoutes(): Route[] {
    return [
      { name: 'health', methods: ['GET'], path: '/health', handler: () => json(200, '{"status":"ok"}') },
      { name: 'health_ready', methods: ['GET'], path: '/health/ready', handler: () => this.#ready() },
    ];
  }

  #ready(): HttpResponse {
    if (this.#draining || this.#link.presence.retired) return json(503, '{"status":"draining"}');
    if (this.#o.dependenciesReady && !this.#o.dependenciesReady())
      return json(503, '{"status":"dependency_down"}');
    return json(200, '{"status":"ready"}');
  }

  async #status(): Promise<HttpResponse> {
    // callsTotal / callsFailed (since start) let the operator judge a rollout's new pods.
    const outcomes = (await this.metrics.calls.get()).values;
    const count = (failed: boolean) =>
      outcomes
        .filter((v) => FAILED_OUTCOMES.has(v.labels.outcome as CallOutcome) === failed)
        .reduce((n, v) => n + v.value, 0);
    const callsFailed = count(true);
    const status: GatewayStatus = {
      activeCalls: this.activeCalls,
      capacity: this.capacity,
      draining: this.#draining || this.#link.presence.retired,
      connectingCalls: this.#link.presence.connectingCalls,
      callsTotal: callsFailed + count(false),
      callsFailed,
    };
    return {
      status: 200,
      body: status,
    };
  }

  async #metricsText(): Promise<HttpResponse> {
    let body = await this.metrics.registry.metrics();
    for (const r of this.#o.extraRegistries ?? []) body += `\n${await r.metrics()}`;
    return { status: 200, body, type: this.metrics.registry.contentType };
  }

  /** undefined when the signature is valid; otherwise the refusal to send. */
  #checkSignature(req: HttpRequest, params: SignatureParams, endpoint: string): HttpResponse | undefined {
    const sig = firstValue(req.headers['x-twilio-signature']);
    const url = this.#httpBase + req.url;
    if (!sig) {
      this.metrics.signatureRejected.labels(endpoint).inc();
      return text(400, 'missing X-Twilio-Signature');
    }
    if (!validateSignature(this.#o.secrets.twilioAuthToken, sig, url, params)) {
      this.metrics.signatureRejected.labels(endpoint).inc();
      this.#o.log.warn({ endpoint }, 'rejected a request with a wrong X-Twilio-Signature');
      return text(403, 'invalid X-Twilio-Signature');
    }
    return undefined;
  }

  async #voiceWebhook(req: HttpRequest): Promise<HttpResponse> {
    const params = formParams(req.body);
    const refused = this.#checkSignature(req, params, 'voice');
    if (refused) return refused;
    const callSid = firstValue(params.CallSid);
    // A campaign call (its attempt id in the signed URL): the remote party is `To`, a machine gets
    // the voicemail answer; the stream below is credentialed exactly like an inbound call's.
    const outbound = await outboundAnswer(req.query, params, this.#o.campaigns, this.#o.log);
    if (outbound.twiml) return xml(outbound.twiml);
    const from = outbound.remote ?? firstValue(params.From) ?? '';
    const to = outbound.remote ? (firstValue(params.From) ?? '') : (firstValue(params.To) ?? '');
    let reason: string | undefined;
    if (this.#draining || this.#link.presence.retired) reason = 'fallback_draining';
    else if (this.activeCalls >= this.capacity) reason = 'fallback_capacity';
    else if (!this.#backends.anyAllowsCalls) reason = 'fallback_circuit_open';
    else if (!callSid || !/^[A-Za-z0-9_-]{1,64}$/.test(callSid)) reason = 'fallback_bad_request';
    else if (from.length > MAX_PARTY_LENGTH || to.length > MAX_PARTY_LENGTH) reason = 'fallback_bad_request';
    this.metrics.webhooks.labels(reason ?? 'stream').inc();
    this.#o.log.info(
      { callSid, from: maskPhone(from), to: maskPhone(to), result: reason ?? 'stream' },
      'voice webhook',
    );
    if (reason) {
      if (outbound.attempt)
        await recordRefusal(outbound.attempt, callSid ?? '', this.#o.campaigns, this.#o.log);
      return xml(fallbackTwiml(this.#o.config.calls.fallback));
    }
    // The stream acts only on what this signed request says: its credential carries exactly that.
    const credential = this.#streams.issue({
      callSid: callSid as string,
      accountSid: firstValue(params.AccountSid) ?? '',
      from,
      to,
    });
    const twiml = connectStreamTwiml({
      streamUrl: `${this.#wssBase}/twilio/stream/${callSid}`,
      statusCallback: `${this.#httpBase}/twilio/stream-status`,
      parameters: { [STREAM_CREDENTIAL_PARAM]: credential },
      say: this.#o.config.recording?.enabled ? this.#o.config.recording.consentAnnouncement : undefined,
    });
    // The call is on this pod from now on: the busy edge goes to the operator before Twilio connects.
    this.#link.presence.connecting(callSid as string);
    return xml(twiml);
  }

  /** A warm transfer's whisper (calls.transfer): Twilio fetches it when the human answers. */
  #whisper(req: HttpRequest): HttpResponse {
    const params = formParams(req.body);
    const refused = this.#checkSignature(req, params, 'whisper');
    if (refused) return refused;
    const token = new URL(req.url, 'http://x').pathname.slice(WHISPER_PATH.length);
    const summary = this.#whispers?.open(token);
    if (summary === undefined) return text(404, 'unknown or expired whisper');
    return xml(whisperTwiml(summary));
  }

  /** Call progress of a campaign call (StatusCallback of Calls create), signed by Twilio. */
  async #callStatus(req: HttpRequest): Promise<HttpResponse> {
    const params = formParams(req.body);
    const refused = this.#checkSignature(req, params, 'call-status');
    if (refused) return refused;
    const attempt = req.query.get(ATTEMPT_PARAM);
    const callStatus = firstValue(params.CallStatus) ?? '';
    if (!isAttemptId(attempt) || !this.#o.campaigns) return text(204, '');
    try {
      await this.#o.campaigns.progress(attempt, {
        callSid: firstValue(params.CallSid),
        callStatus,
        answeredBy: firstValue(params.AnsweredBy),
      });
    } catch (error) {
      // Twilio retries nothing here: the dialer fetches calls whose progress stops arriving.
      this.#o.log.warn({ err: String(error), attempt }, 'could not record call progress');
      return text(503, 'call progress not recorded');
    }
    return text(204, '');
  }

  #streamStatus(req: HttpRequest): HttpResponse {
    const params = formParams(req.body);
    const refused = this.#checkSignature(req, params, 'stream-status');
    if (refused) return refused;
    this.#o.log.info(
      {
        callSid: firstValue(params.CallSid),
        streamSid: firstValue(params.StreamSid),
        event: firstValue(params.StreamEvent),
        error: firstValue(params.StreamError),
      },
      'stream status',
    );
    return text(204, '');
  }
}

function listenOn(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.removeListener('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}

const json = (status: number, body: string): HttpResponse => ({ status, body });
const xml = (body: string): HttpResponse => ({ status: 200, body, type: 'text/xml' });

function formParams(body: Buffer): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(body.toString('utf8'))) {
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else out[k] = [prev, v];
  }
  return out;
}
