// The plaintext of a memory backup (sealed before it leaves the process, storage/sealed.ts):
//   {"format":"callfleet-memory-backup",...}\n          one JSON header line
//   {"table":"callers","columns":[...]}\n                per table: a JSON line, then the rows in
//   <COPY text format rows>                              PostgreSQL's COPY text format (one row per
//   \.\n                                                 line; newlines inside values are escaped)
//   {"end":true,"rows":{...}}\n                          the trailer: a backup without it is truncated
// COPY text is PostgreSQL's own lossless format (bytea, tsvector, jsonb, timestamps round-trip exactly)
// and the fastest way in and out; the JSON lines make the file self-describing, so a backup restores
// into a newer schema (columns added later take their defaults).

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

export interface BackupHeader {
  format: typeof BACKUP_FORMAT;
  version: number;
  schemaVersion: number;
  createdAt: string;
  keyId: string;
  tables: string[];
}

export interface TableHeader {
  table: string;
  columns: string[];
}

export interface BackupTrailer {
  end: true;
  rows: Record<string, number>;
}

export const END_OF_ROWS = Buffer.from('\\.\n');
