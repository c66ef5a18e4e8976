// The gateway-side data-rights API for automation (DSR tooling), behind a bearer token:
//   POST /memory/export  {"phone": "+E164"}                  -> the export document
//   POST /memory/forget  {"phone": "+E164", "actor": "..."}  -> counts deleted, tombstone hash
//   GET  /memory/audit?limit=N&action=forget|export          -> audit entries
// The logic takes method, URL, raw body and headers; dataRightsHandler serves it as a route handler
// (the internal door's /memory/ prefix in voice-gateway/http/routes.ts).
// Without a configured token every route answers 404, so the API is off unless asked for.
import type pg from 'pg';
import { z } from 'zod';
import { bearerToken } from '../../http/headers.ts';
import { issueMessage, parseJsonBody } from '../../http/json-body.ts';
import { json, jsonError } from '../../http/response.ts';
import type { Handler, HttpResponse, RequestHeaders } from '../../http/types.ts';
import { isRecord } from '../../lib/json-shape.ts';
import { safeEqual } from '../../lib/safe-equal.ts';
import type { Keyring } from '../store/crypto.ts';
import { exportCaller, forgetCaller, listAudit, type ObjectDeleter } from '../store/data-rights.ts';

export interface DataRightsApiOptions {
  pool: pg.Pool;
  keyring: Keyring;
  /** Bearer token (from a Secret). Unset: the API is disabled. */
  token?: string | undefined;
  /** The team's bucket, when call recording is on: forget deletes the caller's recordings there. */
  bucket?: ObjectDeleter | undefined;
}

export type DataRightsApi = (
  method: string,
  url: string,
  rawBody: Buffer,
  headers: RequestHeaders,
) => Promise<HttpResponse | undefined>;

/** Body of export and forget. Anything that is not an object has no phone. */
export const callerRequestBody = z.preprocess(
  (v) => (isRecord(v) ? v : {}),
  z.object({
    phone: z.string({ error: 'required (E.164)' }),
    actor: z.string().min(1).catch('api'),
  }),
);

export const auditQuery = z.object({
  limit: z.coerce
    .number<string>({ error: 'a positive integer' })
    .int({ error: 'a positive integer' })
    .min(1, { error: 'a positive integer' }),
  action: z.enum(['forget', 'export'], { error: 'forget or export' }).optional(),
});

/** Returns undefined for paths it does not own, so the server can fall through to its other routes. */
export function createDataRightsApi(options: DataRightsApiOptions): DataRightsApi {
  return async (method, url, rawBody, headers) => {
    const { pathname, searchParams } = new URL(url, 'http://gateway');
    if (!pathname.startsWith('/memory/')) return undefined;
    if (!options.token) return jsonError(404, 'data-rights API disabled');
    if (!safeEqual(bearerToken(headers) ?? '', options.token)) return jsonError(401, 'unauthorized');
    try {
      if (pathname === '/memory/audit' && method === 'GET') {
        const query = auditQuery.safeParse({
          limit: searchParams.get('limit') ?? '100',
          action: searchParams.get('action') || undefined,
        });
        if (!query.success) return jsonError(400, issueMessage(query.error));
        const { limit, action } = query.data;
        return json(200, await listAudit(options.pool, action ? { limit, action } : { limit }));
      }
      if ((pathname === '/memory/export' || pathname === '/memory/forget') && method === 'POST') {
        const body = parseJsonBody(rawBody, callerRequestBody);
        if (!body.ok) return jsonError(400, body.error);
        const { phone, actor } = body.value;
        if (pathname === '/memory/export') {
          const doc = await exportCaller(options.pool, options.keyring, phone, actor);
          return json(doc.found ? 200 : 404, doc);
        }
        return json(200, await forgetCaller(options.pool, options.keyring, phone, actor, options.bucket));
      }
      return jsonError(405, `${method} ${pathname}: not supported`);
    } catch (error) {
      const message = (error as Error).message ?? '';
      if (message.startsWith('phone number:')) return jsonError(400, message);
      return jsonError(503, 'memory store unavailable');
    }
  };
}

/** The data-rights API as a route handler: the normalised path (never the raw request target) and query. */
export function dataRightsHandler(api: DataRightsApi): Handler {
  return (req) => {
    const query = req.query.toString();
    return api(req.method, query ? `${req.path}?${query}` : req.path, req.body, req.headers);
  };
}
