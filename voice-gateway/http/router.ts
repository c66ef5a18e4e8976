// One door: a route table (./routes.ts) behind the path normaliser, the body reader and the one response
// writer. The gateway has two of them (ARCHITECTURE rule 10): the public door (webhooks; streams are
// upgrades on the same server) and the internal door (status, metrics, the data-rights API).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../log.ts';
import { readBody } from './body.ts';
import { applyTimeouts, checkIntervalMs, type HttpLimits } from './limits.ts';
import { normaliseTarget } from './path.ts';
import { text, writeResponse } from './response.ts';
import type { HttpResponse, Route } from './types.ts';

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

function match(routes: readonly Route[], path: string): Route[] {
  return routes.filter((r) => (r.prefix ? path.startsWith(r.path) : path === r.path));
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
