// One door: a route table behind the path normaliser, the body reader and one response writer. The
// gateway has two of them (ARCHITECTURE rule 10): the public door (webhooks; streams are upgrades on
// the same server) and the internal door (status, metrics, the data-rights API).
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Logger } from '../log.ts';
import { readBody } from './body.ts';
import { applyTimeouts, checkIntervalMs, type HttpLimits } from './limits.ts';
import { normaliseTarget } from './path.ts';

export interface HttpRequest {
  method: string;
  /** The normalised, percent-decoded path (routing, handlers). */
  path: string;
  query: URLSearchParams;
  /** The request target exactly as received: what a Twilio signature covers. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface HttpResponse {
  status: number;
  /** string / Buffer: sent as is; anything else: JSON. */
  body?: unknown;
  /** content-type; default application/json. */
  type?: string;
  headers?: Record<string, string>;
}

/** undefined: the handler does not serve this path (404). */
export type Handler = (req: HttpRequest) => HttpResponse | undefined | Promise<HttpResponse | undefined>;

export interface Route {
  /** Stable name for logs and metrics. */
  name: string;
  methods: readonly string[];
  path: string;
  /** Match every path under `path` (which then ends with "/"). */
  prefix?: boolean;
  handler: Handler;
}

export type DoorName = 'public' | 'internal';
/** Why a request was refused before reaching a handler (counted in callfleet_http_rejected_total). */
export type RejectReason = string;

export interface DoorOptions {
  name: DoorName;
  routes: readonly Route[];
  limits: HttpLimits;
  log: Logger;
  onReject?: (reason: RejectReason) => void;
  /** Called first for every request: the one place for request metrics (it may watch the response). */
  onRequest?: (req: IncomingMessage, res: ServerResponse) => void;
}

export const text = (status: number, message: string, headers?: Record<string, string>): HttpResponse => ({
  status,
  body: message,
  type: 'text/plain',
  ...(headers ? { headers } : {}),
});

function match(routes: readonly Route[], path: string): Route[] {
  return routes.filter((r) => (r.prefix ? path.startsWith(r.path) : path === r.path));
}

/** The only place a response is written. `close`: answer, then close the connection (unread body). */
export function writeResponse(res: ServerResponse, r: HttpResponse, close = false): void {
  const body =
    r.body === undefined
      ? ''
      : typeof r.body === 'string' || Buffer.isBuffer(r.body)
        ? r.body
        : JSON.stringify(r.body);
  const headers: Record<string, string | number> = {
    'content-type': r.type ?? 'application/json',
    ...r.headers,
    'content-length': Buffer.byteLength(body),
  };
  if (close) {
    headers.connection = 'close';
    res.once('finish', () => res.socket?.destroy());
    // A peer that does not read the answer must not hold the socket either.
    setTimeout(() => res.socket?.destroy(), 1_000).unref();
  }
  res.writeHead(r.status, headers);
  res.end(body);
}

export function createDoor(o: DoorOptions): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    o.onRequest?.(req, res);
    let routeName = 'none';
    const answer = (r: HttpResponse, close = false) => {
      if (res.headersSent) return;
      writeResponse(res, r, close);
    };
    const refuse = (reason: RejectReason, r: HttpResponse, close = false) => {
      o.onReject?.(reason);
      answer(r, close);
    };
    void (async () => {
      const target = normaliseTarget(req.url);
      if (!target.ok) {
        o.log.debug({ door: o.name, reason: target.reason }, 'refused a request path');
        return refuse(`path_${target.reason}`, text(400, `bad request path: ${target.message}`), true);
      }
      const routes = match(o.routes, target.path);
      const method = req.method ?? 'GET';
      const route = routes.find((r) => r.methods.includes(method));
      // Every request's body is read under the limits (also where no route wants one), so nothing
      // is ever drained unbounded after the answer.
      const body = await readBody(req, o.limits.maxBodyBytes, o.limits.bodyTimeoutMs);
      if (!body.ok) {
        return refuse(`body_${body.reason}`, text(body.status, body.message), true);
      }
      if (routes.length === 0) return answer(text(404, 'not found'));
      if (!route) {
        const allow = [...new Set(routes.flatMap((r) => r.methods))].join(', ');
        return answer(text(405, 'method not allowed', { allow }));
      }
      routeName = route.name;
      const r = await route.handler({
        method,
        path: target.path,
        query: target.query,
        url: req.url ?? '/',
        headers: req.headers,
        body: body.body,
      });
      answer(r ?? text(404, 'not found'));
    })().catch((err: unknown) => {
      o.log.error({ door: o.name, route: routeName, err }, 'request failed');
      answer(text(500, 'internal error'));
    });
  };
}

/** An http.Server for one door, with the door's time limits applied. */
export function createDoorServer(o: DoorOptions): Server {
  const server = createServer(
    { connectionsCheckingInterval: checkIntervalMs(o.limits), requireHostHeader: false },
    createDoor(o),
  );
  applyTimeouts(server, o.limits);
  return server;
}

/** The first value of a header or form field that may be repeated. */
export function firstValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
