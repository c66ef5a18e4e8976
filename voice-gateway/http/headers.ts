// Reading headers and form fields: one getter for a header (any case, first value), one for a field
// that may repeat, one for a bearer token.
import type { RequestHeaders } from './types.ts';

/** The first value of a header or form field that may be repeated. */
export function firstValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The first value of header `name`. Node lowercases incoming names; headers built by hand (tests,
 * adapters) may not be, so other spellings are found too.
 */
export function header(headers: RequestHeaders, name: string): string | undefined {
  const wanted = name.toLowerCase();
  if (wanted in headers) return firstValue(headers[wanted]);
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted) return firstValue(value);
  }
  return undefined;
}

/** The token of `Authorization: Bearer <token>`, or undefined. */
export function bearerToken(headers: RequestHeaders): string | undefined {
  const auth = header(headers, 'authorization');
  return auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
}
