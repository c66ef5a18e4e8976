// Live-call hand-off (drain.handoff, ADR 0010): the draining pod stores the conversation in caller
// memory and re-points the call (Twilio REST update) to a fresh stream through the load balancer;
// the pod that takes the stream reads the record back. The resumed stream carries a fresh stream
// credential issued by the draining pod, whose claims hold the resumed markers (ADR 0014): nothing a
// stream sends about itself is trusted.
import type { Logger } from '../log.ts';
import type { CallerContext, CallerMemory, HandoffRecord } from '../memory/types.ts';
import { STREAM_CREDENTIAL_PARAM } from '../twilio/stream-credential.ts';
import { connectStreamTwiml } from '../twilio/twiml.ts';

/** What became of one call at the hand-off deadline (the label of callfleet_handoffs_total). */
export type HandoffResult = 'sent' | 'no_memory' | 'no_rest' | 'store_failed' | 'rest_failed' | 'not_live';

/** Informational `<Parameter>` on a resumed stream (never trusted: the credential says it). */
export const RESUMED_PARAM = 'callfleet_resumed';
const HANDOFF_STORE_TIMEOUT_MS = 3000;
const HANDOFF_LOAD_TIMEOUT_MS = 2000;

/** `p`, or `fallback` once `ms` passed; `p`'s rejection also gives `fallback` (after `onError`). */
export async function withTimeout<T>(
  p: Promise<T>,
  ms: number,
  fallback: T,
  onError?: (err: Error) => void,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((r) => {
    timer = setTimeout(() => r(fallback), ms);
  });
  try {
    return await Promise.race([
      p.catch((err: unknown) => {
        onError?.(err as Error);
        return fallback;
      }),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The hand-off record of `callSid` (consumed), or null when absent, failing or late. */
export function loadHandoff(
  memory: CallerMemory,
  callSid: string,
  log: Logger,
): Promise<HandoffRecord | null> {
  if (!memory.takeHandoff) return Promise.resolve(null);
  return withTimeout(memory.takeHandoff(callSid), HANDOFF_LOAD_TIMEOUT_MS, null, (err) =>
    log.warn({ err: err.message }, 'hand-off record could not be read'),
  );
}

/** Stores the record; the error when it failed or timed out. */
export async function storeHandoff(memory: CallerMemory, record: HandoffRecord): Promise<Error | undefined> {
  if (!memory.saveHandoff) return new Error('memory cannot store hand-offs');
  let failure: Error | undefined;
  const late = await withTimeout<Error | undefined>(
    memory.saveHandoff(record).then(() => undefined),
    HANDOFF_STORE_TIMEOUT_MS,
    new Error('timed out'),
    (err) => {
      failure = err;
    },
  );
  return failure ?? late;
}

/** Drops a record that will not be used (the call ended or the REST update failed). */
export function discardHandoff(memory: CallerMemory, callSid: string): void {
  void memory.takeHandoff?.(callSid).catch(() => {});
}

/** The TwiML that moves the call to a fresh stream, carrying the resumed stream's credential. */
export function resumeTwiml(o: { streamUrl: string; statusCallback: string; credential: string }): string {
  return connectStreamTwiml({
    streamUrl: o.streamUrl,
    statusCallback: o.statusCallback,
    parameters: { [STREAM_CREDENTIAL_PARAM]: o.credential, [RESUMED_PARAM]: '1' },
  });
}

/** Caller memory lookup within the configured budget (null: unknown caller, failure or late). */
export async function lookupCaller(
  memory: CallerMemory,
  phone: string,
  budgetMs: number,
): Promise<CallerContext | null> {
  return withTimeout(memory.lookup(phone, budgetMs), budgetMs + 20, null);
}
