// The dialers' clock. Production: the system clock. Tests (`--campaign-clock-file`): the system clock
// plus an offset in milliseconds read from a file, so an end-to-end test can move a running operator
// across a calling window without waiting for it.
import { readFileSync } from 'node:fs';

export function offsetClock(file: string, now: () => number = Date.now): () => number {
  let offset = 0;
  let readAt = 0;
  return () => {
    const t = now();
    if (t - readAt >= 100) {
      readAt = t;
      try {
        const n = Number(readFileSync(file, 'utf8').trim());
        offset = Number.isFinite(n) ? n : 0;
      } catch {
        offset = 0;
      }
    }
    return t + offset;
  };
}
