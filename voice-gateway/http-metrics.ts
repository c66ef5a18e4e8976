// HTTP request metrics of the gateway (declared in metrics.ts): callfleet_http_requests_total{route,code}
// and callfleet_http_request_duration_seconds{route}. The route label is one of a fixed set (never the raw
// path: a call sid or a scanner's path must not create series), the code is the status sent.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayMetrics } from './metrics.ts';

const ROUTES = new Set([
  '/twilio/voice',
  '/twilio/stream-status',
  '/elevenlabs/conversation-init',
  '/elevenlabs/tools/search-memory',
  '/elevenlabs/post-call',
  '/health',
  '/health/ready',
  '/status',
  '/metrics',
]);

/** The bounded route label of a request path (query string ignored). */
export function routeOf(url: string | undefined): string {
  const path = (url ?? '/').split('?')[0] ?? '/';
  if (ROUTES.has(path)) return path;
  if (path.startsWith('/twilio/stream/')) return '/twilio/stream';
  if (path.startsWith('/memory/')) return '/memory';
  if (path.startsWith('/twilio/whisper/')) return '/twilio/whisper';
  return 'other';
}

/** Call once per request, first thing: counts it when its response finishes (or the client goes away). */
export function observeRequest(metrics: GatewayMetrics, req: IncomingMessage, res: ServerResponse): void {
  const route = routeOf(req.url);
  const end = metrics.httpDuration.startTimer({ route });
  let done = false;
  const record = () => {
    if (done) return;
    done = true;
    end();
    // A client that went away before an answer: 499, as nginx logs it.
    metrics.httpRequests.inc({ route, code: res.writableFinished ? String(res.statusCode) : '499' });
  };
  res.once('finish', record);
  res.once('close', record);
}
