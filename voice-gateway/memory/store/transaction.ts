// The one place a transaction is opened and closed: BEGIN, then COMMIT when the work returns,
// ROLLBACK when it throws (or asks for it with `rollback(value)`), and the client always released.
import type pg from 'pg';

/** Returned by the work to end the transaction with ROLLBACK and still hand `value` back. */
export class Rollback<T> {
  readonly value: T;
  constructor(value: T) {
    this.value = value;
  }
}

export function rollback<T>(value: T): Rollback<T> {
  return new Rollback(value);
}

export interface TransactionOptions {
  /** The statement that opens the transaction, e.g. `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`. */
  begin?: string;
  /** Session statements run on the connection before BEGIN (e.g. `SET statement_timeout = 0`). */
  session?: readonly string[];
}

/** Runs `work` in one transaction on a client that is already checked out (the caller releases it). */
export async function inTransaction<C extends pg.ClientBase, T>(
  client: C,
  work: (client: C) => Promise<T | Rollback<T>>,
  begin = 'BEGIN',
): Promise<T> {
  try {
    await client.query(begin);
    const out = await work(client);
    if (out instanceof Rollback) {
      await client.query('ROLLBACK');
      return out.value;
    }
    await client.query('COMMIT');
    return out;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

/** Checks a client out of the pool, runs `work` in one transaction on it and releases it. */
export async function withTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T | Rollback<T>>,
  options: TransactionOptions = {},
): Promise<T> {
  const client = await pool.connect();
  try {
    for (const statement of options.session ?? []) await client.query(statement);
    return await inTransaction(client, work, options.begin);
  } finally {
    client.release();
  }
}
