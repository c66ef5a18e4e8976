// The gateway's HTTP seam: one request type, one response type and one handler signature, used by
// every route of both doors (Twilio and ElevenLabs webhooks, the data-rights API, health, status,
// metrics, retire). Routes are listed in ./routes.ts; ./router.ts reads, routes and answers them.
import type { IncomingHttpHeaders } from 'node:http';

export type RequestHeaders = IncomingHttpHeaders;

export interface HttpRequest {
  method: string;
  /** The normalised, percent-decoded path (routing, handlers). */
  path: string;
  query: URLSearchParams;
  /** The request target exactly as received: what a Twilio signature covers. */
  url: string;
  headers: RequestHeaders;
  /** The whole body, already read under the door's byte and time limits. */
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

/** Every route's handler. undefined: the handler does not serve this path (404). */
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
