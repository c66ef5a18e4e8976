// The PostgreSQL connection pool for caller memory: small, with connect and statement timeouts so a
// slow or restarting database turns into fast errors (retried by the write queue) instead of stalls.
import pg from 'pg';

export interface PoolOptions {
  max?: number;
  statementTimeoutMs?: number;
  connectTimeoutMs?: number;
  applicationName?: string;
}

export function createPool(url: string, options: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 2_000,
    statement_timeout: options.statementTimeoutMs ?? 5_000,
    query_timeout: (options.statementTimeoutMs ?? 5_000) + 1_000,
    idle_in_transaction_session_timeout: 30_000,
    application_name: options.applicationName ?? 'callfleet',
    keepAlive: true,
  });
  // An idle client whose server went away (restart, failover) emits 'error' on the pool; without a
  // listener that would crash the gateway. The next checkout simply opens a new connection.
  pool.on('error', () => {});
  return pool;
}
