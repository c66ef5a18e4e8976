// The media-stream door: the signed WebSocket upgrade, the per-pod ceiling on open streams, the
// stream credentials (issue and verify) and the sessions' shared ticker (start deadline, keep-alive,
// call limits). A stream counts as a call only once its credential was accepted (rule 9, rule 11).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { BackendRegistry } from '../backends/registry.ts';
import type { CampaignHooks } from '../campaign/gateway-hooks.ts';
import type { GatewayConfig } from '../config/schema.ts';
import { firstValue } from '../http/headers.ts';
import type { Logger } from '../log.ts';
import type { CallerMemory } from '../memory/types.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { InboundStart } from '../twilio/media-protocol.ts';
import type { TwilioRest } from '../twilio/rest.ts';
import { validateSignature } from '../twilio/signature.ts';
import {
  STREAM_CREDENTIAL_PARAM,
  type StreamClaims,
  type StreamCredentials,
  UsedCredentials,
} from '../twilio/stream-credential.ts';
import type { StreamRefusal } from './outcome.ts';
import { CallSession, streamMaxPayload } from './session.ts';

const STREAM_PATH = /^\/twilio\/stream\/([A-Za-z0-9_-]{1,64})$/;
const TICK_MS = 250;
/** A stream without an accepted start this old gives way to a new upgrade when the pod is at its ceiling. */
const STALE_PENDING_MS = 1000;

export interface StreamServerOptions {
  config: GatewayConfig;
  metrics: GatewayMetrics;
  log: Logger;
  backends: BackendRegistry;
  rest: TwilioRest | undefined;
  memory: CallerMemory | undefined;
  campaigns?: CampaignHooks | undefined;
  credentials: StreamCredentials;
  twilioAuthToken: string;
  /** wss://host of the public base URL (what Twilio signs). */
  wssBase: string;
  podName?: string | undefined;
  /** The whisper URL of a warm transfer's summary (calls.transfer). */
  whisperUrl?: ((summary: string) => string) | undefined;
  /** A call ended (its session closed). */
  onCallEnded(): void;
  /** A stream's credential was accepted: the call is live (the operator link's busy edge). */
  onCallStarted?(callSid: string): void;
}

/** Streams a pod takes beyond its call capacity: resumed calls of a hand-off, webhook races. */
export function streamMargin(capacity: number): number {
  return Math.max(2, Math.ceil(capacity / 10));
}

export class StreamServer {
  /** Every open media stream, also those not (yet) a call. */
  readonly sessions = new Set<CallSession>();
  readonly #o: StreamServerOptions;
  readonly #wss: WebSocketServer;
  readonly #used = new UsedCredentials();
  /** Streams not yet started, per path call sid (a replayed upgrade holds at most one). */
  readonly #pending = new Set<string>();
  readonly #ticker: NodeJS.Timeout;
  #calls = 0;

  constructor(o: StreamServerOptions) {
    this.#o = o;
    this.#wss = new WebSocketServer({
      noServer: true,
      // Hard limit, enforced from the frame header before the payload is buffered (close 1009).
      maxPayload: streamMaxPayload(o.config.limits),
      perMessageDeflate: false,
      skipUTF8Validation: true,
    });
    if (o.podName) {
      const line = `X-Callfleet-Pod: ${o.podName.replace(/[^\w.-]/g, '')}`;
      this.#wss.on('headers', (headers) => headers.push(line));
    }
    this.#ticker = setInterval(() => {
      const now = Date.now();
      for (const s of this.sessions) s.tick(now);
    }, TICK_MS);
    this.#ticker.unref();
  }

  /** Streams whose credential was accepted and that have not ended: the pod's live calls. */
  get calls(): number {
    return this.#calls;
  }

  get ceiling(): number {
    const capacity = this.#o.config.calls.maxConcurrentPerPod;
    return capacity + streamMargin(capacity);
  }

  issue(claims: Omit<StreamClaims, 'expiresAt' | 'id'>): string {
    return this.#o.credentials.issue(claims);
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const o = this.#o;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const match = STREAM_PATH.exec(path);
    if (!match) {
      refuse(socket, 404, 'Not Found');
      return;
    }
    const pathSid = match[1] as string;
    const sig = firstValue(req.headers['x-twilio-signature']);
    const url = o.wssBase + (req.url ?? '/');
    if (!sig || !validateSignature(o.twilioAuthToken, sig, url, {})) {
      o.metrics.signatureRejected.labels('stream').inc();
      o.log.warn({ callSid: pathSid, missing: !sig }, 'refused a media stream without a valid signature');
      refuse(socket, sig ? 403 : 400, sig ? 'Forbidden' : 'Bad Request');
      return;
    }
    // A signed upgrade names one call: a second stream for it waiting for its start is a replay.
    if (this.#pending.has(pathSid)) {
      this.#refuseUpgrade(socket, 'duplicate_pending', 409);
      return;
    }
    // At the ceiling a stream still waiting for its start after a second (Twilio sends start at once)
    // makes room; otherwise the upgrade is refused. Half-open streams cannot lock real calls out.
    if (this.sessions.size >= this.ceiling && !this.#evictStale()) {
      this.#refuseUpgrade(socket, 'capacity', 503);
      return;
    }
    this.#pending.add(pathSid);
    let taken = false;
    // A handshake that fails never reaches the callback: free the call's pending slot anyway.
    socket.once('close', () => {
      if (!taken) this.#pending.delete(pathSid);
    });
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      taken = true;
      const session = new CallSession(ws, pathSid, {
        config: o.config,
        metrics: o.metrics,
        log: o.log,
        backends: o.backends,
        twilioRest: o.rest,
        memory: o.memory,
        campaigns: o.campaigns,
        authorize: (sid, start) => this.#authorize(sid, start),
        issueCredential: (c) => this.issue(c),
        whisperUrl: o.whisperUrl,
        onStart: (s) => {
          this.#pending.delete(s.pathCallSid);
          this.#calls++;
          o.onCallStarted?.(s.pathCallSid);
        },
        onEnd: (s) => {
          this.sessions.delete(s);
          o.metrics.openStreams.set(this.sessions.size);
          if (!s.started) {
            this.#pending.delete(s.pathCallSid);
            return;
          }
          this.#calls--;
          o.onCallEnded();
        },
      });
      this.sessions.add(session);
      o.metrics.openStreams.set(this.sessions.size);
    });
  }

  #evictStale(): boolean {
    const now = Date.now();
    for (const s of this.sessions) {
      if (!s.started && !s.ending && now - s.connectedAt >= STALE_PENDING_MS) {
        s.refuse('evicted', true);
        return true;
      }
    }
    return false;
  }

  #refuseUpgrade(socket: Duplex, reason: StreamRefusal, status: 503 | 409): void {
    this.#o.metrics.streamsRefused.labels(reason).inc();
    refuse(socket, status, status === 503 ? 'Service Unavailable' : 'Conflict');
  }

  #authorize(pathSid: string, start: InboundStart): StreamClaims | StreamRefusal {
    const v = this.#o.credentials.verify(start.customParameters[STREAM_CREDENTIAL_PARAM]);
    if (!v.ok) return v.reason;
    const c = v.claims;
    if (c.callSid !== pathSid || start.callSid !== pathSid || start.accountSid !== c.accountSid)
      return 'call_mismatch';
    if (!this.#used.use(c.id, c.expiresAt)) return 'credential_replayed';
    return c;
  }

  /** Closes the streams that never became calls (a drain ends: they must not hold the pod). */
  closeUnstarted(): void {
    for (const s of this.sessions) if (!s.started) s.refuse('draining', true);
  }

  close(): void {
    clearInterval(this.#ticker);
    for (const client of this.#wss.clients) client.terminate();
    this.#wss.close();
  }
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.on('error', () => {});
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
