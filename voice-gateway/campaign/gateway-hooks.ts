// What a gateway does for campaign calls, backed by the MemoryStore: record Twilio's call progress
// (from signed status callbacks and the voice webhook), hand the recipient's variables to the agent,
// and put a number on the do-not-call list (DTMF or the agent's opt_out tool).
import type pg from 'pg';
import type { Keyring } from '../memory/store/crypto.ts';
import { type CallProgress, recordAnsweredBy, recordProgress } from './attempts.ts';
import { addDoNotCall, variablesForCall } from './recipients.ts';
import { ensureCampaignSchema } from './schema.ts';

export interface CampaignCall {
  variables: Record<string, string>;
  /** DTMF digit that opts the recipient out, when the campaign set one. */
  optOutDigit?: string;
}

export interface CampaignHooks {
  progress(attemptId: string, p: CallProgress): Promise<boolean>;
  answeredBy(attemptId: string, callSid: string, answeredBy: string): Promise<void>;
  /** The campaign data of a call, or undefined for a call no campaign placed. */
  call(callSid: string): Promise<CampaignCall | undefined>;
  optOut(phone: string, source: 'dtmf' | 'agent'): Promise<void>;
}

export function createCampaignHooks(pool: pg.Pool, keyring: Keyring): CampaignHooks {
  let schema: Promise<void> | undefined;
  const ready = () => {
    schema ??= ensureCampaignSchema(pool).catch((error) => {
      schema = undefined;
      throw error;
    });
    return schema;
  };
  return {
    async progress(attemptId, p) {
      await ready();
      return recordProgress(pool, attemptId, p);
    },
    async answeredBy(attemptId, callSid, answeredBy) {
      await ready();
      await recordAnsweredBy(pool, attemptId, callSid, answeredBy);
    },
    async call(callSid) {
      await ready();
      const variables = await variablesForCall(pool, keyring, callSid);
      if (!variables) return undefined;
      const digit = await pool.query<{ opt_out_digit: string | null }>(
        'SELECT opt_out_digit FROM campaign_attempts WHERE call_sid = $1',
        [callSid],
      );
      const d = digit.rows[0]?.opt_out_digit;
      return { variables, ...(d ? { optOutDigit: d } : {}) };
    },
    async optOut(phone, source) {
      await ready();
      await addDoNotCall(pool, keyring, phone, source);
    },
  };
}
