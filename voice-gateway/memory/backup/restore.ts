// Loads a backup's plaintext (format.ts) into a migrated, empty database in one transaction:
// COPY ... FROM STDIN per table, identity sequences moved past the restored ids, all or nothing.
import type { Writable } from 'node:stream';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { isRecord } from '../../lib/json-shape.ts';
import { migrate } from '../store/migrate.ts';
import { migrations } from '../store/migrations.ts';
import { type TransactionOptions, withTransaction } from '../store/transaction.ts';
import { quoteIdent, tableColumns } from './dump.ts';
import {
  BACKUP_FORMAT,
  BACKUP_TABLES,
  type BackupHeader,
  type BackupTrailer,
  backupHeaderSchema,
  backupTrailerSchema,
  parseLine,
  type TableHeader,
  tableHeaderSchema,
} from './format.ts';

export class RestoreRefused extends Error {}

/** A restore copies every table in one transaction: no statement timeout. */
const NO_STATEMENT_TIMEOUT: TransactionOptions = { session: ['SET statement_timeout = 0'] };
const TERMINATOR = Buffer.from('\n\\.\n');

/** True when no caller data (nor any audit entry) is stored yet. */
export async function isEmpty(db: pg.Pool | pg.PoolClient): Promise<boolean> {
  const { rows } = await db.query<{ any: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM callers) OR EXISTS (SELECT 1 FROM memory_audit)
         OR EXISTS (SELECT 1 FROM call_recordings) AS any`,
  );
  return !rows[0]?.any;
}

function write(stream: Writable, chunk: Buffer): Promise<void> | undefined {
  if (stream.write(chunk)) return undefined;
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    stream.once('error', onError);
    stream.once('drain', () => {
      stream.off('error', onError);
      resolve();
    });
  });
}

function finishCopy(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once('error', reject);
    stream.once('finish', resolve);
    stream.end();
  });
}

export interface RestoreResult {
  header: BackupHeader;
  rows: Record<string, number>;
  bytes: number;
}

/**
 * Restores into `pool` (migrated here first). Refuses a database that already holds caller data
 * (restoring over live data would silently mix two histories) and a backup from a newer schema.
 */
export async function restoreMemory(pool: pg.Pool, plaintext: AsyncIterable<Buffer>): Promise<RestoreResult> {
  await migrate(pool);
  let header: BackupHeader | undefined;
  let trailer: BackupTrailer | undefined;
  let bytes = 0;
  const rows: Record<string, number> = {};
  return withTransaction(
    pool,
    async (client) => {
      await client.query('LOCK TABLE callers, memory_audit, call_recordings IN EXCLUSIVE MODE');
      if (!(await isEmpty(client))) {
        throw new RestoreRefused(
          'the target database already holds caller data: restore into a new, empty MemoryStore',
        );
      }
      const known = migrations.at(-1)?.version ?? 0;
      let buf: Buffer = Buffer.alloc(0);
      let copy: Writable | undefined;
      let table = '';
      const startTable = async (th: TableHeader) => {
        if (!(BACKUP_TABLES as readonly string[]).includes(th.table)) {
          throw new Error(`backup names an unknown table ${th.table}`);
        }
        const have = new Set(await tableColumns(client, th.table));
        const missing = th.columns.filter((c) => !have.has(c));
        if (missing.length)
          throw new Error(`backup column(s) ${missing.join(', ')} of ${th.table} not in the schema`);
        table = th.table;
        copy = client.query(
          copyFrom(`COPY ${quoteIdent(th.table)} (${th.columns.map(quoteIdent).join(', ')}) FROM STDIN`),
        ) as unknown as Writable;
      };
      const jsonLine = async (line: string) => {
        const value = JSON.parse(line) as unknown;
        const fields = isRecord(value) ? value : {};
        if (!header) {
          if (fields.format !== BACKUP_FORMAT) throw new Error('not a callfleet memory backup');
          const parsed = parseLine('backup header', backupHeaderSchema, value);
          if (parsed.schemaVersion > known) {
            throw new RestoreRefused(
              `backup has schema version ${parsed.schemaVersion}; this callfleet knows up to ${known}: upgrade first`,
            );
          }
          header = parsed;
          return;
        }
        if ('end' in fields) {
          trailer = parseLine('backup trailer', backupTrailerSchema, value);
          return;
        }
        if ('table' in fields) return startTable(parseLine('backup table header', tableHeaderSchema, value));
        throw new Error('backup: unexpected line');
      };
      for await (const chunk of plaintext) {
        bytes += chunk.length;
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
        for (;;) {
          if (copy) {
            // Row data: hand complete lines to COPY until the end-of-rows line.
            const atStart = buf.length >= 3 && buf[0] === 0x5c && buf[1] === 0x2e && buf[2] === 0x0a;
            const end = atStart ? -1 : buf.indexOf(TERMINATOR);
            if (atStart || end >= 0) {
              const upto = atStart ? 0 : end + 1;
              if (upto > 0) await write(copy, buf.subarray(0, upto));
              await finishCopy(copy);
              rows[table] = Number((copy as unknown as { rowCount?: number }).rowCount ?? 0);
              copy = undefined;
              buf = buf.subarray(upto + 3);
              continue;
            }
            // The end-of-rows line starts a line, so everything up to the last newline is row data.
            const last = buf.lastIndexOf(0x0a);
            if (last >= 0) {
              await write(copy, buf.subarray(0, last + 1));
              buf = buf.subarray(last + 1);
            }
            break;
          }
          const nl = buf.indexOf(0x0a);
          if (nl < 0) break;
          const line = buf.subarray(0, nl).toString('utf8');
          buf = buf.subarray(nl + 1);
          await jsonLine(line);
        }
      }
      if (!header) throw new Error('backup: empty');
      if (copy || !trailer) throw new Error('backup: truncated (no end marker)');
      for (const [t, n] of Object.entries(trailer.rows)) {
        if ((rows[t] ?? 0) !== n)
          throw new Error(`backup: ${t} has ${rows[t] ?? 0} rows, the trailer says ${n}`);
      }
      for (const t of ['memories', 'memory_audit']) {
        await client.query(
          `SELECT setval(pg_get_serial_sequence($1, 'id'), coalesce((SELECT max(id) FROM ${quoteIdent(t)}), 1),
                (SELECT max(id) FROM ${quoteIdent(t)}) IS NOT NULL)`,
          [t],
        );
      }
      return { header, rows, bytes };
    },
    NO_STATEMENT_TIMEOUT,
  );
}
