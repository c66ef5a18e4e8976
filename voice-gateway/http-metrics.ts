// HTTP request metrics of the gateway: callfleet_http_requests_total{route,code} and
// callfleet_http_request_duration_seconds{route}. The route label is one of a fixed set (never the raw
// path: a call sid or a scanner's path must not create series), the code is the status sent.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Histogram, type Registry } from 'prom-client';

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

export class HttpMetrics {
  readonly requests: Counter<'route' | 'code'>;
  readonly duration: Histogram<'route'>;

  constructor(registry: Registry) {
    // A registry shared by several gateways (tests) keeps one pair of metrics.
    const existing = registry.getSingleMetric('callfleet_http_requests_total');
    if (existing) {
      this.requests = existing as Counter<'route' | 'code'>;
      this.duration = registry.getSingleMetric(
        'callfleet_http_request_duration_seconds',
      ) as Histogram<'route'>;
      return;
    }
    this.requests = new Counter({
      name: 'callfleet_http_requests_total',
      help: 'HTTP requests answered, by route and status code',
      labelNames: ['route', 'code'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'callfleet_http_request_duration_seconds',
      help: 'Time from a request arriving to its response being sent, by route',
      labelNames: ['route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
  }

  /** Call once per request, first thing: counts it when its response finishes (or the client goes away). */
  observe(req: IncomingMessage, res: ServerResponse): void {
    const route = routeOf(req.url);
    const end = this.duration.startTimer({ route });
    let done = false;
    const record = () => {
      if (done) return;
      done = true;
      end();
      // A client that went away before an answer: 499, as nginx logs it.
      this.requests.inc({ route, code: res.writableFinished ? String(res.statusCode) : '499' });
    };
    res.once('finish', record);
    res.once('close', record);
  }
}
