// Secrets are compared in constant time, so a caller cannot learn a signature byte by byte.
import { timingSafeEqual } from 'node:crypto';

/** True when `a` and `b` hold the same bytes; the time taken does not depend on where they differ. */
export function safeEqual(a: string | Buffer, b: string | Buffer): boolean {
  const x = typeof a === 'string' ? Buffer.from(a) : a;
  const y = typeof b === 'string' ? Buffer.from(b) : b;
  return x.length === y.length && timingSafeEqual(x, y);
}
