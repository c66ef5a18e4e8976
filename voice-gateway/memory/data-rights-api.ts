// The gateway-side data-rights API for automation (DSR tooling), behind a bearer token:
//   POST /memory/export  {"phone": "+E164"}                  -> the export document
//   POST /memory/forget  {"phone": "+E164", "actor": "..."}  -> counts deleted, tombstone hash
//   GET  /memory/audit?limit=N&action=forget|export          -> audit entries
// A pure handler: the HTTP server passes method, URL, raw body and headers and writes the result.
// Without a configured token every route answers 404, so the API is off unless asked for.
import { timingSafeEqual } from 'node:crypto';
import type pg from 'pg';
import type { Headers, WebhookResponse } from './elevenlabs-webhooks.ts';
import type { Keyring } from './store/crypto.ts';
import { exportCaller, forgetCaller, listAudit, type ObjectDeleter } from './store/data-rights.ts';

export interface DataRightsApiOptions {
  pool: pg.Pool;
  keyring: Keyring;
  /** Bearer token (from a Secret). Unset: the API is disabled. */
  token?: string | undefined;
  /** The team's bucket, when call recording is on: forget deletes the caller's recordings there. */
  bucket?: ObjectDeleter | undefined;
}

export type DataRightsHandler = (
  method: string,
  url: string,
  rawBody: Buffer,
  headers: Headers,
) => Promise<WebhookResponse | undefined>;

function bearer(headers: Headers): string {
  const raw = headers.authorization ?? headers.Authorization;
  const value = Array.isArray(raw) ? raw[0] : raw;
  return value?.startsWith('Bearer ') ? value.slice(7) : '';
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Returns undefined for paths it does not own, so the server can fall through to its other routes. */
export function createDataRightsApi(options: DataRightsApiOptions): DataRightsHandler {
  return async (method, url, rawBody, headers) => {
    const { pathname, searchParams } = new URL(url, 'http://gateway');
    if (!pathname.startsWith('/memory/')) return undefined;
    if (!options.token) return { status: 404, body: { error: 'data-rights API disabled' } };
    if (!same(bearer(headers), options.token)) return { status: 401, body: { error: 'unauthorized' } };
    try {
      if (pathname === '/memory/audit' && method === 'GET') {
        const limit = Number(searchParams.get('limit') ?? 100);
        const action = searchParams.get('action');
        if (!Number.isInteger(limit) || limit < 1)
          return { status: 400, body: { error: 'limit: a positive integer' } };
        if (action && action !== 'forget' && action !== 'export') {
          return { status: 400, body: { error: 'action: forget or export' } };
        }
        const filter: { limit: number; action?: 'forget' | 'export' } = { limit };
        if (action === 'forget' || action === 'export') filter.action = action;
        return { status: 200, body: await listAudit(options.pool, filter) };
      }
      if ((pathname === '/memory/export' || pathname === '/memory/forget') && method === 'POST') {
        let body: { phone?: unknown; actor?: unknown };
        try {
          body = JSON.parse(rawBody.toString('utf8')) as typeof body;
        } catch {
          return { status: 400, body: { error: 'body: expected JSON' } };
        }
        if (typeof body?.phone !== 'string')
          return { status: 400, body: { error: 'phone: required (E.164)' } };
        const actor = typeof body.actor === 'string' && body.actor ? body.actor : 'api';
        if (pathname === '/memory/export') {
          const doc = await exportCaller(options.pool, options.keyring, body.phone, actor);
          return { status: doc.found ? 200 : 404, body: doc };
        }
        return {
          status: 200,
          body: await forgetCaller(options.pool, options.keyring, body.phone, actor, options.bucket),
        };
      }
      return { status: 405, body: { error: `${method} ${pathname}: not supported` } };
    } catch (error) {
      const message = (error as Error).message ?? '';
      if (message.startsWith('phone number:')) return { status: 400, body: { error: message } };
      return { status: 503, body: { error: 'memory store unavailable' } };
    }
  };
}
