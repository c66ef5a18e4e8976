// The gateway: its two HTTP doors (routes in http/routes.ts), the media-stream upgrade, drain and
// hand-off, and the health, readiness, status and metrics answers.
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { BackendRegistry } from './backends/registry.ts';
import type { BackendSecrets } from './backends/types.ts';
import { type CallOutcome, FAILED_OUTCOMES } from './call/outcome.ts';
import type { CallSession, HandoffResult } from './call/session.ts';
import { StreamServer } from './call/stream-server.ts';
import type { CampaignHooks } from './campaign/gateway-hooks.ts';
import type { GatewayConfig } from './config/schema.ts';
import { drainCalls } from './drain.ts';
import { GatewayLink } from './gateway-link.ts';
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from './http/limits.ts';
import { json } from './http/response.ts';
import { createDoorServer, type DoorName } from './http/router.ts';
import { type GatewayHandlers, internalRoutes, publicRoutes } from './http/routes.ts';
import type { Handler, HttpResponse, Route } from './http/types.ts';
import { observeRequest } from './http-metrics.ts';
import type { Logger } from './log.ts';
import type { ElevenLabsWebhookHandlers } from './memory/http/elevenlabs-webhooks.ts';
import type { CallerMemory } from './memory/types.ts';
import { GatewayMetrics } from './metrics.ts';
import type { GatewayStatus } from './status.ts';
import { TwilioRest } from './twilio/rest.ts';
import { StreamCredentials, streamKeyProblem } from './twilio/stream-credential.ts';
import { twilioWebhooks } from './twilio/webhooks.ts';
import { WHISPER_PATH, WhisperTokens } from './twilio/whisper-token.ts';

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
  /** elevenlabs-native mode webhooks, supplied by caller memory; each route answers 404 when absent. */
  webhooks?: ElevenLabsWebhookHandlers | undefined;
  /** Served under /memory/ on the internal port (the data-rights API, behind its own bearer token). */
  memoryApi?: Handler | undefined;
  /** Required dependencies (e.g. caller memory configured as required); false = readiness 503. */
  dependenciesReady?: (() => boolean) | undefined;
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
    const door = (name: DoorName, routes: Route[]) =>
      createDoorServer({
        name,
        routes,
        limits,
        log: o.log,
        onReject: (reason) => this.metrics.httpRejected.labels(name, reason).inc(),
        onRequest: (req, res) => observeRequest(this.metrics, req, res),
      });
    const handlers = this.#handlers();
    this.server = door('public', publicRoutes(handlers));
    this.internalServer = door('internal', internalRoutes(handlers));
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

  #handlers(): GatewayHandlers {
    const o = this.#o;
    return {
      health: () => json(200, '{"status":"ok"}'),
      ready: () => this.#ready(),
      status: () => this.#status(),
      metrics: () => this.#metricsText(),
      retire: (r) => this.#link.retire(r),
      twilio: twilioWebhooks({
        authToken: o.secrets.twilioAuthToken,
        httpBase: this.#httpBase,
        wssBase: this.#wssBase,
        config: o.config,
        metrics: this.metrics,
        log: o.log,
        campaigns: o.campaigns,
        whispers: this.#whispers,
        refusal: () => {
          if (this.#draining || this.#link.presence.retired) return 'fallback_draining';
          if (this.activeCalls >= this.capacity) return 'fallback_capacity';
          if (!this.#backends.anyAllowsCalls) return 'fallback_circuit_open';
          return undefined;
        },
        issueCredential: (claims) => this.#streams.issue(claims),
        connecting: (callSid) => this.#link.presence.connecting(callSid),
      }),
      elevenlabs: o.webhooks,
      memoryApi: o.memoryApi,
    };
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
    return json(200, status);
  }

  async #metricsText(): Promise<HttpResponse> {
    const body = await this.metrics.registry.metrics();
    return { status: 200, body, type: this.metrics.registry.contentType };
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
