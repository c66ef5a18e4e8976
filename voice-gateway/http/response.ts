// Building and writing responses: handlers return an HttpResponse value, and writeResponse is the only
// place one is put on the wire.
import type { ServerResponse } from 'node:http';
import type { HttpResponse } from './types.ts';

export const text = (status: number, message: string, headers?: Record<string, string>): HttpResponse => ({
  status,
  body: message,
  type: 'text/plain',
  ...(headers ? { headers } : {}),
});

/** A JSON answer: `body` is serialised unless it already is a string. */
export const json = (status: number, body: unknown): HttpResponse => ({ status, body });

/** `{"error": message}` with `status`: how every JSON API of the gateway refuses a request. */
export const jsonError = (status: number, error: string): HttpResponse => ({ status, body: { error } });

export const xml = (body: string): HttpResponse => ({ status: 200, body, type: 'text/xml' });

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
