// HTTP + WebSocket wiring: Twilio webhooks, the media-stream upgrade, health, status and metrics.
import { randomBytes } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Registry } from 'prom-client';
import { BackendRegistry } from './backends/registry.ts';
import type { BackendSecrets } from './backends/types.ts';
import { type CallOutcome, FAILED_OUTCOMES } from './call/outcome.ts';
import type { CallSession, HandoffResult } from './call/session.ts';
import { StreamServer } from './call/stream-server.ts';
import type { GatewayConfig } from './config/schema.ts';
import { drainCalls } from './drain.ts';
import type { Logger } from './log.ts';
import { maskPhone } from './log.ts';
import type { CallerMemory } from './memory/types.ts';
import { GatewayMetrics } from './metrics.ts';
import { TwilioRest } from './twilio/rest.ts';
import { type SignatureParams, validateSignature } from './twilio/signature.ts';
import {
  MAX_PARTY_LENGTH,
  STREAM_CREDENTIAL_PARAM,
  StreamCredentials,
  streamKeyProblem,
} from './twilio/stream-credential.ts';
import { connectStreamTwiml, fallbackTwiml } from './twilio/twiml.ts';

export interface WebhookRequest {
  headers: IncomingHttpHeaders;
  url: string;
  body: Buffer;
}
export interface WebhookResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}
export type WebhookHandler = (req: WebhookRequest) => Promise<WebhookResponse>;
/** A handler that owns a path prefix; answers undefined for paths it does not serve. */
export type ApiHandler = (req: WebhookRequest & { method: string }) => Promise<WebhookResponse | undefined>;

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
  /** Served under /memory/ (the data-rights API, behind its own bearer token). */
  memoryApi?: ApiHandler | undefined;
  /** Required dependencies (e.g. caller memory configured as required); false = readiness 503. */
  dependenciesReady?: (() => boolean) | undefined;
  /** Further registries appended to /metrics (e.g. prom-client's default one, caller-memory metrics). */
  extraRegistries?: Registry[] | undefined;
  /** Twilio REST base URL (env TWILIO_API_BASE_URL wins over config). */
  twilioApiBaseUrl?: string | undefined;
  /** Sent as X-Callfleet-Pod on media-stream upgrades (which pod took a call; env HOSTNAME). */
  podName?: string | undefined;
}

const MAX_BODY = 64 * 1024;

export class Gateway {
  readonly server: Server;
  readonly metrics: GatewayMetrics;
  readonly #o: GatewayOptions;
  readonly #streams: StreamServer;
  readonly #backends: BackendRegistry;
  readonly #rest: TwilioRest | undefined;
  readonly #endListeners = new Set<() => void>();
  readonly #wssBase: string;
  readonly #httpBase: string;
  #draining = false;

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
    const keyProblem = streamKeyProblem(o.secrets.streamKey);
    if (keyProblem && o.config.telephony === 'twilio-stream')
      throw new Error(`CALLFLEET_STREAM_KEY: ${keyProblem} (required in twilio-stream mode)`);
    this.#streams = new StreamServer({
      config: o.config,
      metrics: this.metrics,
      log: o.log,
      backends: this.#backends,
      rest: this.#rest,
      memory: o.memory,
      // elevenlabs-native mode serves no streams: a random key refuses every stream credential.
      credentials: new StreamCredentials(
        keyProblem ? randomBytes(32).toString('base64') : (o.secrets.streamKey as string),
      ),
      twilioAuthToken: o.secrets.twilioAuthToken,
      wssBase: this.#wssBase,
      podName: o.podName,
      onCallEnded: () => {
        for (const l of this.#endListeners) l();
      },
    });
    this.server = createServer((req, res) => {
      this.#route(req, res).catch((err) => {
        o.log.error({ err: (err as Error).message, path: req.url }, 'request failed');
        if (!res.headersSent) send(res, 500, 'text/plain', 'internal error');
      });
    });
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

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.removeListener('error', reject);
        const addr = this.server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : port);
      });
    });
  }

  /** Starts draining; resolves when the last call ended or the grace period is spent. */
  async drain(): Promise<'drained' | 'deadline'> {
    this.#draining = true;
    this.metrics.draining.set(1);
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

  async close(): Promise<void> {
    this.#streams.close();
    await new Promise<void>((r) => {
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
  }

  // ---- HTTP --------------------------------------------------------------------------------

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const method = req.method ?? 'GET';
    if (path.startsWith('/memory/') && this.#o.memoryApi) return this.#memoryApi(this.#o.memoryApi, req, res);
    if (method === 'GET') {
      switch (path) {
        case '/health':
          return send(res, 200, 'application/json', '{"status":"ok"}');
        case '/health/ready':
          if (this.#draining) return send(res, 503, 'application/json', '{"status":"draining"}');
          if (this.#o.dependenciesReady && !this.#o.dependenciesReady())
            return send(res, 503, 'application/json', '{"status":"dependency_down"}');
          return send(res, 200, 'application/json', '{"status":"ready"}');
        case '/status': {
          // callsTotal / callsFailed (since start) let the operator judge a rollout's new pods.
          const outcomes = (await this.metrics.calls.get()).values;
          const count = (failed: boolean) =>
            outcomes
              .filter((v) => FAILED_OUTCOMES.has(v.labels.outcome as CallOutcome) === failed)
              .reduce((n, v) => n + v.value, 0);
          const callsFailed = count(true);
          return send(
            res,
            200,
            'application/json',
            JSON.stringify({
              activeCalls: this.activeCalls,
              capacity: this.capacity,
              draining: this.#draining,
              callsTotal: callsFailed + count(false),
              callsFailed,
            }),
          );
        }
        case '/metrics': {
          let body = await this.metrics.registry.metrics();
          for (const r of this.#o.extraRegistries ?? []) body += `\n${await r.metrics()}`;
          return send(res, 200, this.metrics.registry.contentType, body);
        }
      }
      return send(res, 404, 'text/plain', 'not found');
    }
    if (method !== 'POST') return send(res, 405, 'text/plain', 'method not allowed');
    const body = await readBody(req);
    if (body === null) return send(res, 413, 'text/plain', 'body too large');
    switch (path) {
      case '/twilio/voice':
        return this.#voiceWebhook(req, res, body);
      case '/twilio/stream-status':
        return this.#streamStatus(req, res, body);
      case '/elevenlabs/conversation-init':
        return this.#delegate(this.#o.webhooks?.conversationInit, req, res, body);
      case '/elevenlabs/tools/search-memory':
        return this.#delegate(this.#o.webhooks?.searchMemory, req, res, body);
      case '/elevenlabs/post-call':
        return this.#delegate(this.#o.webhooks?.postCall, req, res, body);
    }
    return send(res, 404, 'text/plain', 'not found');
  }

  #checkSignature(
    req: IncomingMessage,
    res: ServerResponse,
    params: SignatureParams,
    endpoint: string,
  ): boolean {
    const sig = header(req.headers['x-twilio-signature']);
    const url = this.#httpBase + (req.url ?? '/');
    if (!sig) {
      this.metrics.signatureRejected.labels(endpoint).inc();
      send(res, 400, 'text/plain', 'missing X-Twilio-Signature');
      return false;
    }
    if (!validateSignature(this.#o.secrets.twilioAuthToken, sig, url, params)) {
      this.metrics.signatureRejected.labels(endpoint).inc();
      this.#o.log.warn({ endpoint }, 'rejected a request with a wrong X-Twilio-Signature');
      send(res, 403, 'text/plain', 'invalid X-Twilio-Signature');
      return false;
    }
    return true;
  }

  #voiceWebhook(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const params = formParams(body);
    if (!this.#checkSignature(req, res, params, 'voice')) return;
    const callSid = first(params.CallSid);
    const from = first(params.From) ?? '';
    const to = first(params.To) ?? '';
    let reason: string | undefined;
    if (this.#draining) reason = 'fallback_draining';
    else if (this.activeCalls >= this.capacity) reason = 'fallback_capacity';
    else if (!this.#backends.breaker().allowsCalls) reason = 'fallback_circuit_open';
    else if (!callSid || !/^[A-Za-z0-9_-]{1,64}$/.test(callSid)) reason = 'fallback_bad_request';
    else if (from.length > MAX_PARTY_LENGTH || to.length > MAX_PARTY_LENGTH) reason = 'fallback_bad_request';
    this.metrics.webhooks.labels(reason ?? 'stream').inc();
    this.#o.log.info(
      { callSid, from: maskPhone(from), to: maskPhone(to), result: reason ?? 'stream' },
      'voice webhook',
    );
    if (reason) {
      send(res, 200, 'text/xml', fallbackTwiml(this.#o.config.calls.fallback));
      return;
    }
    // The stream acts only on what this signed request says: its credential carries exactly that.
    const credential = this.#streams.issue({
      callSid: callSid as string,
      accountSid: first(params.AccountSid) ?? '',
      from,
      to,
    });
    const twiml = connectStreamTwiml({
      streamUrl: `${this.#wssBase}/twilio/stream/${callSid}`,
      statusCallback: `${this.#httpBase}/twilio/stream-status`,
      parameters: { [STREAM_CREDENTIAL_PARAM]: credential },
    });
    send(res, 200, 'text/xml', twiml);
  }

  #streamStatus(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const params = formParams(body);
    if (!this.#checkSignature(req, res, params, 'stream-status')) return;
    this.#o.log.info(
      {
        callSid: first(params.CallSid),
        streamSid: first(params.StreamSid),
        event: first(params.StreamEvent),
        error: first(params.StreamError),
      },
      'stream status',
    );
    send(res, 204, 'text/plain', '');
  }

  async #delegate(h: WebhookHandler | undefined, req: IncomingMessage, res: ServerResponse, body: Buffer) {
    if (!h) return send(res, 404, 'text/plain', 'not found');
    const r = await h({ headers: req.headers, url: req.url ?? '/', body });
    const text = r.body === undefined ? '' : typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
    res.writeHead(r.status, { 'content-type': 'application/json', ...r.headers });
    res.end(text);
  }

  async #memoryApi(h: ApiHandler, req: IncomingMessage, res: ServerResponse) {
    const method = req.method ?? 'GET';
    const body = method === 'GET' ? Buffer.alloc(0) : await readBody(req);
    if (body === null) return send(res, 413, 'text/plain', 'body too large');
    const r = await h({ method, headers: req.headers, url: req.url ?? '/', body });
    if (!r) return send(res, 404, 'text/plain', 'not found');
    const text = r.body === undefined ? '' : JSON.stringify(r.body);
    res.writeHead(r.status, { 'content-type': 'application/json', ...r.headers });
    res.end(text);
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

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

function readBody(req: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) tooBig = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(tooBig ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
