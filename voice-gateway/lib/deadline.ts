// One way to bound a wait in time. Every wait the gateway makes on something outside itself
// (the database, the bucket, Twilio, a hand-off record) goes through here, so no timer is
// left behind and no wait is unbounded.
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Resolves with what `work` resolves to, or with `late()` once `ms` have passed, whichever
 * comes first. `late` may throw to turn the deadline into an error. The timer is always
 * cancelled; a rejection of `work` passes through unchanged.
 */
export async function within<T, L>(work: Promise<T>, ms: number, late: () => L): Promise<T | L> {
  const stop = new AbortController();
  try {
    return await Promise.race([work, sleep(Math.max(0, ms), undefined, { signal: stop.signal }).then(late)]);
  } finally {
    stop.abort();
  }
}

/** `late` for `within` that fails with "<what> timed out after <ms> ms". */
export function timedOut(what: string, ms: number): () => never {
  return () => {
    throw new Error(`${what} timed out after ${ms} ms`);
  };
}
