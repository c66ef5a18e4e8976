// X-Twilio-Signature: base64(HMAC-SHA1(authToken, url + sorted params as key+value)).
// Hand-written (the twilio package is heavy to load) and checked against the official vectors.
import { createHmac } from 'node:crypto';
import { safeEqual } from '../lib/safe-equal.ts';

export type SignatureParams = Record<string, string | string[]>;

export function computeSignature(authToken: string, url: string, params: SignatureParams = {}): string {
  const hmac = createHmac('sha1', authToken);
  hmac.update(url);
  for (const key of Object.keys(params).sort()) {
    const value = params[key];
    if (Array.isArray(value)) {
      for (const v of [...new Set(value)].sort()) hmac.update(key + v);
    } else if (value !== undefined) {
      hmac.update(key + value);
    }
  }
  return hmac.digest('base64');
}

const authorityRe = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/i;
const defaultPorts: Record<string, string> = { 'https:': '443', 'wss:': '443', 'http:': '80', 'ws:': '80' };

/** The URL as given, with the scheme's default port added, and with it removed (Twilio signs either). */
export function urlVariants(url: string): string[] {
  const m = authorityRe.exec(url);
  if (!m) return [url];
  const scheme = m[1] as string;
  const authority = m[2] as string;
  const rest = m[3] as string;
  const port = defaultPorts[scheme.slice(0, -2).toLowerCase()];
  if (!port) return [url];
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at + 1) : '';
  const hostPort = at >= 0 ? authority.slice(at + 1) : authority;
  const portMatch = /:(\d+)$/.exec(hostPort);
  if (portMatch && portMatch[1] !== port) return [url];
  const host = portMatch ? hostPort.slice(0, -portMatch[0].length) : hostPort;
  return [url, `${scheme}${userinfo}${host}:${port}${rest}`, `${scheme}${userinfo}${host}${rest}`];
}

/** Validates a form-encoded (or parameterless) request. */
export function validateSignature(
  authToken: string,
  signature: string | undefined,
  url: string,
  params: SignatureParams = {},
): boolean {
  if (!signature || !authToken) return false;
  let ok = false;
  for (const candidate of urlVariants(url)) {
    if (safeEqual(computeSignature(authToken, candidate, params), signature)) ok = true;
  }
  return ok;
}
