// Live-call hand-off (drain.handoff, ADR 0007): the draining pod stores the conversation in caller
// memory and re-points the call (Twilio REST update) to a fresh stream through the load balancer;
// the pod that takes the stream reads the record back. The resumed stream carries a fresh stream
// credential issued by the draining pod, whose claims hold the resumed markers (ADR 0011): nothing a
// stream sends about itself is trusted.
import { within } from '../lib/deadline.ts';
import type { Logger } from '../log.ts';
import type { CallerContext, CallerMemory, HandoffRecord } from '../memory/types.ts';
import type { TwilioRest } from '../twilio/rest.ts';
import { STREAM_CREDENTIAL_PARAM, type StreamClaims } from '../twilio/stream-credential.ts';
import { connectStreamTwiml } from '../twilio/twiml.ts';

/** What became of one call at the hand-off deadline (the label of callfleet_handoffs_total). */
export type HandoffResult = 'sent' | 'no_memory' | 'no_rest' | 'store_failed' | 'rest_failed' | 'not_live';

/** Informational `<Parameter>` on a resumed stream (never trusted: the credential says it). */
export const RESUMED_PARAM = 'callfleet_resumed';
const HANDOFF_STORE_TIMEOUT_MS = 3000;
const HANDOFF_LOAD_TIMEOUT_MS = 2000;

/** `p`, or `fallback` once `ms` passed; `p`'s rejection also gives `fallback` (after `onError`). */
export function withTimeout<T>(
  p: Promise<T>,
  ms: number,
  fallback: T,
  onError?: (err: Error) => void,
): Promise<T> {
  const settled = p.catch((err: unknown) => {
    onError?.(err as Error);
    return fallback;
  });
  return within(settled, ms, () => fallback);
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

export interface HandoffRequest {
  claims: StreamClaims;
  record: HandoffRecord;
  memory: CallerMemory;
  rest: TwilioRest;
  streamUrl: string;
  statusCallback: string;
  issueCredential(claims: Omit<StreamClaims, 'expiresAt' | 'id'>): string;
  /** False once the call ended (or started ending) while the record was being stored. */
  live(): boolean;
  log: Logger;
}

/**
 * Stores the record, then re-points the call to a fresh stream (REST update) whose credential this
 * pod issues. `sent` means Twilio took the update; anything else leaves the call where it is.
 */
export async function sendHandoff(h: HandoffRequest): Promise<HandoffResult> {
  const failed = await storeHandoff(h.memory, h.record);
  if (failed) {
    h.log.warn({ err: failed.message }, 'hand-off record not stored: the call stays (plain draining)');
    return 'store_failed';
  }
  const callSid = h.claims.callSid;
  if (!h.live()) {
    discardHandoff(h.memory, callSid);
    return 'not_live';
  }
  const credential = h.issueCredential({
    callSid,
    accountSid: h.claims.accountSid,
    from: h.claims.from,
    to: h.claims.to,
    handoffAt: Date.now(),
    startedAt: Date.parse(h.record.startedAt),
  });
  const twiml = resumeTwiml({ streamUrl: h.streamUrl, statusCallback: h.statusCallback, credential });
  if (!(await h.rest.updateCall(callSid, twiml))) {
    discardHandoff(h.memory, callSid);
    h.log.warn('Twilio REST update for the hand-off failed: the call stays (plain draining)');
    return 'rest_failed';
  }
  h.log.info({ handoffs: h.record.handoffs, turns: h.record.transcript.length }, 'call handed off');
  return 'sent';
}
