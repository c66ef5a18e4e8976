// Writes a consistent logical dump of the caller-memory tables to a sink: one REPEATABLE READ
// snapshot, COPY ... TO STDOUT per table, streamed (memory is a COPY chunk, not the table).
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { type TransactionOptions, withTransaction } from '../store/transaction.ts';
import {
  BACKUP_FORMAT,
  BACKUP_TABLES,
  BACKUP_VERSION,
  type BackupHeader,
  type BackupTrailer,
  END_OF_ROWS,
  type TableHeader,
} from './format.ts';

/** One consistent snapshot, with no statement timeout (a dump reads every table). */
const SNAPSHOT: TransactionOptions = {
  session: ['SET statement_timeout = 0'],
  begin: 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
};

export type Sink = (chunk: Buffer) => Promise<void>;

export async function tableColumns(client: pg.PoolClient, table: string): Promise<string[]> {
  const { rows } = await client.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  return rows.map((r) => r.column_name);
}

export async function schemaVersion(db: pg.Pool | pg.PoolClient): Promise<number> {
  const { rows } = await db.query<{ v: number | null }>(
    'SELECT max(version)::int AS v FROM callfleet_schema_migrations',
  );
  return rows[0]?.v ?? 0;
}

export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

export async function dumpMemory(
  pool: pg.Pool,
  keyId: string,
  sink: Sink,
): Promise<{ header: BackupHeader; rows: Record<string, number>; bytes: number }> {
  let bytes = 0;
  const emit = async (chunk: Buffer) => {
    bytes += chunk.length;
    await sink(chunk);
  };
  return withTransaction(
    pool,
    async (client) => {
      const header: BackupHeader = {
        format: BACKUP_FORMAT,
        version: BACKUP_VERSION,
        schemaVersion: await schemaVersion(client),
        createdAt: new Date().toISOString(),
        keyId,
        tables: [...BACKUP_TABLES],
      };
      await emit(Buffer.from(`${JSON.stringify(header)}\n`));
      const rows: Record<string, number> = {};
      for (const table of BACKUP_TABLES) {
        const columns = await tableColumns(client, table);
        if (columns.length === 0) throw new Error(`table ${table} missing: run callfleet migrate first`);
        const th: TableHeader = { table, columns };
        await emit(Buffer.from(`${JSON.stringify(th)}\n`));
        const stream = client.query(
          copyTo(`COPY ${quoteIdent(table)} (${columns.map(quoteIdent).join(', ')}) TO STDOUT`),
        );
        for await (const chunk of stream) await emit(chunk as Buffer);
        rows[table] = Number((stream as unknown as { rowCount?: number }).rowCount ?? 0);
        await emit(END_OF_ROWS);
      }
      const trailer: BackupTrailer = { end: true, rows };
      await emit(Buffer.from(`${JSON.stringify(trailer)}\n`));
      return { header, rows, bytes };
    },
    SNAPSHOT,
  );
}
