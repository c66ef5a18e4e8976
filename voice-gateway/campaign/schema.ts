// The campaign tables in the MemoryStore's database, beside caller memory. Created idempotently under
// an advisory lock by whoever touches them first (the operator's dialer or a gateway). Phone numbers
// and variables exist only encrypted (`*_enc`, AES-256-GCM) and as keyed hashes (`phone_hash`), as
// in caller memory (ADR 0003). One row per recipient with its durable state; one row per attempt,
// written BEFORE the Twilio REST call (ADR 0018).
import type pg from 'pg';

const LOCK = 0x63616d70; // 'camp'

export const CAMPAIGN_SCHEMA = `
CREATE TABLE IF NOT EXISTS campaign_runs (
  campaign     text PRIMARY KEY,
  imported_at  timestamptz,
  total        integer NOT NULL DEFAULT 0,
  epoch        bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS campaign_recipients (
  campaign     text NOT NULL,
  idx          integer NOT NULL,
  phone_hash   bytea NOT NULL,
  phone_enc    bytea,
  vars_enc     bytea,
  key_id       text NOT NULL,
  tz           text NOT NULL,
  priority     integer NOT NULL DEFAULT 0,
  state        text NOT NULL DEFAULT 'pending',
  attempts     integer NOT NULL DEFAULT 0,
  next_at      timestamptz NOT NULL DEFAULT '-infinity',
  last_outcome text,
  PRIMARY KEY (campaign, idx)
);
CREATE INDEX IF NOT EXISTS campaign_recipients_due ON campaign_recipients (campaign, state, priority DESC, next_at, idx);
CREATE INDEX IF NOT EXISTS campaign_recipients_phone ON campaign_recipients (phone_hash);
CREATE TABLE IF NOT EXISTS campaign_attempts (
  id            uuid PRIMARY KEY,
  campaign      text NOT NULL,
  idx           integer NOT NULL,
  attempt       integer NOT NULL,
  epoch         bigint NOT NULL,
  created_at    timestamptz NOT NULL,
  state         text NOT NULL DEFAULT 'recorded',
  call_sid      text UNIQUE,
  twilio_status text,
  answered_by   text,
  outcome       text,
  applied       boolean NOT NULL DEFAULT false,
  opt_out_digit text,
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS campaign_attempts_once ON campaign_attempts (campaign, idx, attempt) WHERE state <> 'void';
CREATE INDEX IF NOT EXISTS campaign_attempts_open ON campaign_attempts (campaign, applied, state);
CREATE TABLE IF NOT EXISTS do_not_call (
  phone_hash bytea PRIMARY KEY,
  added_at   timestamptz NOT NULL DEFAULT now(),
  source     text NOT NULL
);
`;

export async function ensureCampaignSchema(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK]);
    try {
      await client.query(CAMPAIGN_SCHEMA);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [LOCK]);
    }
  } finally {
    client.release();
  }
}
