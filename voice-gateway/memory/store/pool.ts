// The PostgreSQL connection pool for caller memory: small, with connect and statement timeouts so a
// slow or restarting database turns into fast errors (retried by the write queue) instead of stalls.
// With a CA (the MemoryStore's, mounted at CALLFLEET_MEMORY_CA_FILE) the pool always connects with TLS
// and verify-full: the server's certificate must chain to that CA and name the host dialled, whatever
// sslmode the URL says (an older connection Secret may still say sslmode=disable).
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import pg from 'pg';

export interface PoolOptions {
  max?: number;
  statementTimeoutMs?: number;
  connectTimeoutMs?: number;
  applicationName?: string;
  /** PEM CA bundle: TLS with verify-full against it. */
  ca?: string;
  /**
   * The name the server certificate must carry when the URL dials another address (`callfleet memory
   * --host 127.0.0.1:5432` through a port-forward): verify-full still checks the in-cluster name.
   */
  serverName?: string;
}

/** URL parameters that would override the TLS settings (pg lets the URL win over the config). */
const SSL_PARAMS = ['ssl', 'sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'sslnegotiation', 'uselibpqcompat'];

/** The URL without its TLS parameters, and the TLS options that replace them (verify-full with `ca`). */
export function verifyFullConfig(
  url: string,
  ca: string,
  serverName?: string,
): { connectionString: string; ssl: pg.ConnectionConfig['ssl'] } {
  const parsed = new URL(url);
  for (const p of SSL_PARAMS) parsed.searchParams.delete(p);
  // Node's check of the host dialled (name or IP) against the certificate's names, or of serverName.
  const identity = serverName
    ? { checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(serverName, cert) }
    : {};
  return { connectionString: parsed.toString(), ssl: { ca, rejectUnauthorized: true, ...identity } };
}

export function createPool(url: string, options: PoolOptions = {}): pg.Pool {
  const connection = options.ca
    ? verifyFullConfig(url, options.ca, options.serverName)
    : { connectionString: url };
  const pool = new pg.Pool({
    ...connection,
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
