// The plaintext of a memory backup (sealed before it leaves the process, storage/sealed.ts):
//   {"format":"callfleet-memory-backup",...}\n          one JSON header line
//   {"table":"callers","columns":[...]}\n                per table: a JSON line, then the rows in
//   <COPY text format rows>                              PostgreSQL's COPY text format (one row per
//   \.\n                                                 line; newlines inside values are escaped)
//   {"end":true,"rows":{...}}\n                          the trailer: a backup without it is truncated
// COPY text is PostgreSQL's own lossless format (bytea, tsvector, jsonb, timestamps round-trip exactly)
// and the fastest way in and out; the JSON lines make the file self-describing, so a backup restores
// into a newer schema (columns added later take their defaults).

import { z } from 'zod';

export const BACKUP_FORMAT = 'callfleet-memory-backup';
export const BACKUP_VERSION = 1;
export const BACKUP_PURPOSE = 'memory-backup';

/** Tables in dependency order. call_handoffs is left out: hand-off records live seconds. */
export const BACKUP_TABLES = [
  'callers',
  'calls',
  'transcript_turns',
  'memories',
  'memory_audit',
  'call_recordings',
] as const;

export const backupHeaderSchema = z.object({
  format: z.literal(BACKUP_FORMAT),
  version: z.number().int(),
  schemaVersion: z.number().int().min(0),
  createdAt: z.string(),
  keyId: z.string(),
  tables: z.array(z.string()),
});
export type BackupHeader = z.infer<typeof backupHeaderSchema>;

export const tableHeaderSchema = z.object({ table: z.string().min(1), columns: z.array(z.string()).min(1) });
export type TableHeader = z.infer<typeof tableHeaderSchema>;

export const backupTrailerSchema = z.object({
  end: z.literal(true),
  rows: z.record(z.string(), z.number().int().min(0)),
});
export type BackupTrailer = z.infer<typeof backupTrailerSchema>;

/** The line parsed with `schema`, or an error naming the line and the field (`backup header: keyId: …`). */
export function parseLine<T>(what: string, schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new Error(
    `${what}: ${issue?.path.length ? `${issue.path.join('.')}: ` : ''}${issue?.message ?? 'invalid'}`,
  );
}

export const END_OF_ROWS = Buffer.from('\\.\n');
