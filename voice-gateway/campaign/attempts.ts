// What the gateways and the dialer record about one outbound attempt: Twilio's call progress (from
// signed status callbacks or the Calls list), mapped to the attempt's state and final outcome. Progress
// only moves forward: callbacks arrive out of order, and a final status is never overwritten.
import type pg from 'pg';

export type AttemptState = 'recorded' | 'sent' | 'ringing' | 'in-progress' | 'done' | 'void';
export type Outcome = 'completed' | 'voicemail' | 'busy' | 'no-answer' | 'failed';

/** The query parameter carrying the attempt id in the voice webhook and status callback URLs. */
export const ATTEMPT_PARAM = 'callfleet_attempt';
export const VOICEMAIL_PARAM = 'callfleet_vm';

const ATTEMPT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isAttemptId(id: string | undefined | null): id is string {
  return typeof id === 'string' && ATTEMPT_ID.test(id);
}

const FINAL = new Set(['completed', 'busy', 'no-answer', 'failed', 'canceled']);

/** Twilio CallStatus → attempt state. */
export function stateOf(callStatus: string): AttemptState | undefined {
  if (FINAL.has(callStatus)) return 'done';
  if (callStatus === 'in-progress' || callStatus === 'answered') return 'in-progress';
  if (callStatus === 'ringing') return 'ringing';
  if (callStatus === 'queued' || callStatus === 'initiated') return 'sent';
  return undefined;
}

export function isMachine(answeredBy: string | undefined | null): boolean {
  return typeof answeredBy === 'string' && /^(machine|fax)/.test(answeredBy);
}

/** The final outcome of a call in a final Twilio status. */
export function outcomeOf(callStatus: string, answeredBy?: string | null): Outcome | undefined {
  if (!FINAL.has(callStatus)) return undefined;
  if (callStatus === 'completed') return isMachine(answeredBy) ? 'voicemail' : 'completed';
  if (callStatus === 'busy') return 'busy';
  if (callStatus === 'no-answer') return 'no-answer';
  return 'failed';
}

const RANK = "ARRAY['recorded','sent','ringing','in-progress','done']";

export interface CallProgress {
  callSid?: string | undefined;
  callStatus: string;
  answeredBy?: string | undefined;
}

/**
 * Records Twilio's word on an attempt; forward only. Resolves false when the attempt is unknown, void,
 * or already final (a replayed or late callback changes nothing).
 */
export async function recordProgress(
  db: pg.Pool | pg.PoolClient,
  attemptId: string,
  p: CallProgress,
): Promise<boolean> {
  const state = stateOf(p.callStatus);
  if (!state) return false;
  const outcome = outcomeOf(p.callStatus, p.answeredBy);
  const r = await db.query(
    `UPDATE campaign_attempts
        SET call_sid = COALESCE(call_sid, $2),
            twilio_status = $3,
            answered_by = COALESCE($4, answered_by),
            state = $5,
            outcome = CASE WHEN $5 = 'done' THEN (CASE WHEN $3 = 'completed' AND (COALESCE($4, answered_by) ~ '^(machine|fax)') THEN 'voicemail' ELSE $6 END) ELSE outcome END,
            updated_at = now()
      WHERE id = $1 AND state NOT IN ('done', 'void')
        AND (call_sid IS NULL OR $2::text IS NULL OR call_sid = $2)
        AND array_position(${RANK}, state) <= array_position(${RANK}, $5::text)`,
    [attemptId, p.callSid ?? null, p.callStatus, p.answeredBy ?? null, state, outcome ?? null],
  );
  return (r.rowCount ?? 0) > 0;
}

/** Marks an attempt answered by a machine (the voice webhook saw AnsweredBy). */
export async function recordAnsweredBy(
  db: pg.Pool,
  attemptId: string,
  callSid: string,
  answeredBy: string,
): Promise<void> {
  await db.query(
    `UPDATE campaign_attempts SET answered_by = $3, call_sid = COALESCE(call_sid, $2), updated_at = now()
      WHERE id = $1 AND state <> 'void' AND (call_sid IS NULL OR call_sid = $2)`,
    [attemptId, callSid, answeredBy],
  );
}
