// The voice webhook of a campaign call. Twilio requests the Url the dialer gave Calls create (the
// attempt id in its query, covered by the signature) once the call is answered and, with
// answering-machine detection, after it decided who answered. A machine gets the voicemail message
// (or a hang-up); a person gets the stream, credentialed like an inbound call, with the recipient
// (`To`) as the remote party whose memory the agent sees.
import { firstValue } from '../http/headers.ts';
import { timedOut, within } from '../lib/deadline.ts';
import type { Logger } from '../log.ts';
import { escapeXml } from '../twilio/twiml.ts';
import { ATTEMPT_PARAM, isAttemptId, isMachine, VOICEMAIL_PARAM } from './attempts.ts';
import type { CampaignHooks } from './gateway-hooks.ts';

const HEAD = '<?xml version="1.0" encoding="UTF-8"?>';
const RECORD_BUDGET_MS = 1000;

export interface OutboundAnswer {
  /** TwiML to answer instead of the stream (voicemail). */
  twiml?: string;
  /** The remote party of an outbound call (the recipient), when this is one. */
  remote?: string;
  /** The attempt of a campaign call. */
  attempt?: string;
}

async function bounded(work: Promise<unknown>, log: Logger, what: string): Promise<void> {
  try {
    await within(work, RECORD_BUDGET_MS, timedOut(`recording ${what}`, RECORD_BUDGET_MS));
  } catch (error) {
    log.warn({ err: String(error) }, `campaign call: could not record ${what}`);
  }
}

export async function outboundAnswer(
  query: URLSearchParams,
  params: Record<string, string | string[]>,
  hooks: CampaignHooks | undefined,
  log: Logger,
): Promise<OutboundAnswer> {
  const attempt = query.get(ATTEMPT_PARAM);
  const direction = firstValue(params.Direction) ?? '';
  if (!isAttemptId(attempt) || !direction.startsWith('outbound')) return {};
  const callSid = firstValue(params.CallSid) ?? '';
  const answeredBy = firstValue(params.AnsweredBy);
  const remote = firstValue(params.To) ?? '';
  if (isMachine(answeredBy)) {
    if (hooks) await bounded(hooks.answeredBy(attempt, callSid, answeredBy as string), log, 'the machine');
    const message = query.get(VOICEMAIL_PARAM);
    const body = message ? `<Say>${escapeXml(message.slice(0, 500))}</Say><Hangup/>` : '<Hangup/>';
    log.info({ callSid, attempt, answeredBy }, 'campaign call answered by a machine');
    return { twiml: `${HEAD}<Response>${body}</Response>`, remote, attempt };
  }
  if (hooks) {
    await bounded(
      hooks.progress(attempt, { callSid, callStatus: 'in-progress', answeredBy: answeredBy ?? undefined }),
      log,
      'the answer',
    );
  }
  return { remote, attempt };
}

/**
 * A campaign call the fleet could not take (full, draining, backend down) got the fallback: its
 * attempt counts as failed (retried per the campaign), whatever Twilio reports when it ends.
 */
export async function recordRefusal(
  attempt: string,
  callSid: string,
  hooks: CampaignHooks | undefined,
  log: Logger,
): Promise<void> {
  if (hooks) await bounded(hooks.progress(attempt, { callSid, callStatus: 'failed' }), log, 'the refusal');
}
