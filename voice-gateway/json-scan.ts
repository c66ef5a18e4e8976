// Byte-level checks for the fast paths that read fixed-shape JSON messages without `JSON.parse`
// (twilio/media-scan.ts, backends/websocket-scan.ts). Each returns an index, or -1 to send the
// message down the `JSON.parse` path; -1 in gives -1 out, so checks chain without branches.

export const QUOTE = 34;
const BACKSLASH = 92;

/** Index after `lit` when `buf` has it at `at`, else -1. */
export function literal(buf: Buffer, at: number, lit: Buffer): number {
  const n = lit.length;
  if (at < 0 || at + n > buf.length) return -1;
  for (let i = 0; i < n; i++) if (buf[at + i] !== lit[i]) return -1;
  return at + n;
}

/** Index of the quote closing a run of one or more ASCII digits starting at `at`, else -1. */
export function digits(buf: Buffer, at: number): number {
  if (at < 0) return -1;
  let i = at;
  for (let b = buf[i]; b !== undefined && b >= 48 && b <= 57; b = buf[++i]);
  return i > at && buf[i] === QUOTE ? i : -1;
}

/**
 * Index of the quote closing a run of printable ASCII without `"` or `\` starting at `at`, else -1:
 * such bytes are exactly the string `JSON.parse` would give.
 */
export function plain(buf: Buffer, at: number): number {
  if (at < 0) return -1;
  let i = at;
  for (let b = buf[i]; b !== undefined && b >= 0x20 && b < 0x7f && b !== BACKSLASH; b = buf[++i]) {
    if (b === QUOTE) return i;
  }
  return -1;
}

const BASE64 = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/')
  BASE64[c.charCodeAt(0)] = 1;
const EQUALS = 61;

/**
 * Index of the quote closing a base64 string starting at `at` (the alphabet, then at most two `=`,
 * as `isBase64` accepts), else -1. One pass over the bytes: no string, no regular expression.
 */
export function base64(buf: Buffer, at: number): number {
  if (at < 0) return -1;
  const n = buf.length;
  let i = at;
  while (i < n && BASE64[buf[i] as number] === 1) i++;
  if (buf[i] === EQUALS) i++;
  if (buf[i] === EQUALS) i++;
  return i < n && buf[i] === QUOTE ? i : -1;
}

/** `known` when the bytes `[start, end)` spell it (no new string), else those bytes as a string. */
export function asciiReusing(buf: Buffer, start: number, end: number, known: string | undefined): string {
  if (known !== undefined && known.length === end - start) {
    let i = 0;
    while (i < known.length && buf[start + i] === known.charCodeAt(i)) i++;
    if (i === known.length) return known;
  }
  return buf.toString('latin1', start, end);
}

/** True when the frame ends at `at` with `}`: nothing after the object. */
export function endsWithBrace(buf: Buffer, at: number): boolean {
  return at >= 0 && at + 1 === buf.length && buf[at] === 125;
}

/** The ASCII bytes `[start, end)` as a string (the checks above guarantee ASCII). */
export function ascii(buf: Buffer, start: number, end: number): string {
  return buf.toString('latin1', start, end);
}
