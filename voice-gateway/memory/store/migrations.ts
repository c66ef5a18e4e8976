// The caller-memory schema, as an ordered list of migrations. Append only: never edit a migration that
// has shipped; add a new one. Each runs in its own transaction under the migration advisory lock
// (migrate.ts). PostgreSQL built-ins only (no extension a managed database might lack).
//
// PII columns: phone numbers exist only as `phone_hash` (HMAC-SHA256, lookup) and `phone_enc`
// (AES-256-GCM). Text (transcripts, memories, profile) is either plain (`text`) or encrypted
// (`text_enc` + `key_id`); `tsv` is the full-text index: lexemes of the plain text, or keyed tokens of
// the encrypted text (a blind index), never the text itself.
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'callers, calls, transcript turns, memories, audit',
    sql: `
CREATE TABLE callers (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  phone_hash    bytea NOT NULL UNIQUE,
  phone_enc     bytea NOT NULL,
  key_id        text NOT NULL,
  profile       jsonb NOT NULL DEFAULT '{}'::jsonb,
  profile_enc   bytea,
  call_count    integer NOT NULL DEFAULT 0,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_call_at  timestamptz
);

CREATE TABLE calls (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  caller_id   uuid NOT NULL REFERENCES callers(id) ON DELETE CASCADE,
  call_sid    text NOT NULL UNIQUE,
  to_enc      bytea,
  key_id      text NOT NULL,
  started_at  timestamptz NOT NULL,
  ended_at    timestamptz NOT NULL,
  outcome     text NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calls_caller_started ON calls (caller_id, started_at DESC);

CREATE TABLE transcript_turns (
  call_id     uuid NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
  seq         integer NOT NULL,
  caller_id   uuid NOT NULL REFERENCES callers(id) ON DELETE CASCADE,
  role        text NOT NULL CHECK (role IN ('caller', 'agent')),
  at_ms       integer NOT NULL,
  text        text,
  text_enc    bytea,
  key_id      text,
  tsv         tsvector,
  created_at  timestamptz NOT NULL,
  PRIMARY KEY (call_id, seq),
  CHECK ((text IS NULL) <> (text_enc IS NULL))
);
CREATE INDEX transcript_turns_caller ON transcript_turns (caller_id, created_at DESC);
CREATE INDEX transcript_turns_created ON transcript_turns (created_at);
CREATE INDEX transcript_turns_tsv ON transcript_turns USING gin (tsv);

CREATE TABLE memories (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  caller_id   uuid NOT NULL REFERENCES callers(id) ON DELETE CASCADE,
  call_id     uuid REFERENCES calls(id) ON DELETE CASCADE,
  kind        text NOT NULL CHECK (kind IN ('fact', 'preference', 'summary')),
  text        text,
  text_enc    bytea,
  key_id      text,
  tsv         tsvector,
  created_at  timestamptz NOT NULL,
  CHECK ((text IS NULL) <> (text_enc IS NULL))
);
CREATE INDEX memories_caller_created ON memories (caller_id, created_at DESC);
CREATE INDEX memories_caller_summary ON memories (caller_id, created_at DESC) WHERE kind = 'summary';
CREATE INDEX memories_created ON memories (created_at);
CREATE INDEX memories_tsv ON memories USING gin (tsv);

-- Data-rights audit. subject_hash is the tombstone hash (a keyed hash under a different sub-key from
-- callers.phone_hash), so an audit row cannot be joined to a caller or reversed to a number.
CREATE TABLE memory_audit (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  action        text NOT NULL CHECK (action IN ('forget', 'export')),
  subject_hash  bytea NOT NULL,
  actor         text NOT NULL,
  at            timestamptz NOT NULL DEFAULT now(),
  counts        jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX memory_audit_subject ON memory_audit (subject_hash, at DESC) WHERE action = 'forget';
`,
  },
  {
    version: 2,
    name: 'call hand-off records',
    sql: `
-- One row per call being handed from a draining pod to another (drain.handoff): the transcript so far
-- and the caller's context, encrypted as one JSON document (AAD: handoff:<call_sid>). Read and deleted
-- by the pod that resumes the call; rows past expires_at are deleted on the next write.
CREATE TABLE call_handoffs (
  call_sid    text PRIMARY KEY,
  payload_enc bytea NOT NULL,
  key_id      text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL
);
CREATE INDEX call_handoffs_expires ON call_handoffs (expires_at);
`,
  },
  {
    version: 3,
    name: 'call recordings index',
    sql: `
-- One row per recorded media stream (a call handed off between pods has one per stream). The audio is
-- a sealed object in the team's bucket (voice-gateway/recording/); this row is what data-rights export
-- and forget find it by (phone_hash: the lookup hash, as in callers) and what the retention sweep
-- deletes past expires_at. The row is written when recording starts, so a forget during the call
-- deletes it and the recorder, finding its row gone at the end, deletes the object it wrote.
CREATE TABLE call_recordings (
  stream_sid   text PRIMARY KEY,
  call_sid     text NOT NULL,
  phone_hash   bytea NOT NULL,
  object_key   text NOT NULL UNIQUE,
  key_id       text NOT NULL,
  status       text NOT NULL CHECK (status IN ('recording', 'complete', 'failed')),
  bytes        bigint,
  duration_ms  integer,
  dropped_bytes bigint NOT NULL DEFAULT 0,
  started_at   timestamptz NOT NULL,
  ended_at     timestamptz,
  expires_at   timestamptz NOT NULL
);
CREATE INDEX call_recordings_phone ON call_recordings (phone_hash);
CREATE INDEX call_recordings_expires ON call_recordings (expires_at);
`,
  },
];
