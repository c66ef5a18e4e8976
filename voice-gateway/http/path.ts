// Request-target normalisation, done once before routing (ARCHITECTURE rule 10). A front door (nginx,
// ALB, Envoy) and this gateway must agree on what a path means, so anything they could read
// differently is refused outright instead of being "cleaned up": dot segments, backslashes,
// percent-encoded slashes / backslashes / dots, empty segments and control characters. What is left is
// percent-decoded (other escapes, e.g. %61, mean the same to every reader) and routed as is.

export type PathRejectReason =
  | 'not_origin_form'
  | 'control_char'
  | 'backslash'
  | 'encoded_separator'
  | 'dot_segment'
  | 'empty_segment'
  | 'bad_escape'
  | 'too_long';

export type NormalisedTarget =
  | { ok: true; path: string; query: URLSearchParams }
  | { ok: false; reason: PathRejectReason; message: string };

export const MAX_TARGET_LENGTH = 4096;

const reject = (reason: PathRejectReason, message: string): NormalisedTarget => ({
  ok: false,
  reason,
  message,
});

/** Control characters (C0, DEL) and whitespace have no place in a path. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const CONTROL = /[\u0000-\u0020\u007f]/;
/** %00-%1F, %7F (encoded control characters). */
const ENCODED_CONTROL = /%(?:[01][0-9a-f]|7f)/i;
/** %2F "/", %5C "\", %2E "." — a separator or dot smuggled past a front door that does not decode. */
const ENCODED_SEPARATOR = /%(?:2f|5c|2e)/i;

/** Splits and validates a request target (`/path?query`); refuses anything ambiguous with a reason. */
export function normaliseTarget(target: string | undefined): NormalisedTarget {
  const raw = target ?? '';
  if (raw.length > MAX_TARGET_LENGTH)
    return reject('too_long', `request target longer than ${MAX_TARGET_LENGTH}`);
  if (!raw.startsWith('/'))
    return reject('not_origin_form', 'request target must be a path starting with "/"');
  const q = raw.indexOf('?');
  const rawPath = q < 0 ? raw : raw.slice(0, q);
  const rawQuery = q < 0 ? '' : raw.slice(q + 1);
  if (CONTROL.test(rawPath) || ENCODED_CONTROL.test(rawPath))
    return reject('control_char', 'control characters or spaces in the path');
  if (rawPath.includes('\\')) return reject('backslash', 'backslash in the path');
  if (ENCODED_SEPARATOR.test(rawPath))
    return reject('encoded_separator', 'percent-encoded "/", "\\" or "." in the path');
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return reject('bad_escape', 'malformed percent-encoding in the path');
  }
  const segments = path.split('/').slice(1);
  for (const [i, s] of segments.entries()) {
    if (s === '.' || s === '..') return reject('dot_segment', '"." or ".." segment in the path');
    // One trailing slash is a path of its own ("/memory/"); an empty segment anywhere else is "//".
    if (s === '' && i < segments.length - 1)
      return reject('empty_segment', 'empty segment ("//") in the path');
  }
  if (CONTROL.test(path)) return reject('control_char', 'control characters or spaces in the path');
  if (CONTROL.test(rawQuery)) return reject('control_char', 'control characters or spaces in the query');
  return { ok: true, path, query: new URLSearchParams(rawQuery) };
}
