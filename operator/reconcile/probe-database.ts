// Does an external PostgreSQL answer? One short-lived connection and `select 1`.
import pg from 'pg';
import { verifyFullConfig } from '../../voice-gateway/memory/store/pool.ts';

export async function probeDatabase(
  url: string,
  timeoutMs = 3000,
  ca?: string,
): Promise<{ ok: boolean; endpoint?: string; error?: string }> {
  let endpoint: string | undefined;
  try {
    const parsed = new URL(url);
    endpoint = `${parsed.hostname}:${parsed.port || '5432'}`;
  } catch {
    return { ok: false, error: 'the connection URL does not parse' };
  }
  const client = new pg.Client({
    // With the store's CA: verify-full, exactly as the gateways connect.
    ...(ca ? verifyFullConfig(url, ca) : { connectionString: url }),
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
  });
  try {
    await client.connect();
    await client.query('select 1');
    return { ok: true, endpoint };
  } catch (error) {
    return { ok: false, endpoint, error: (error as Error).message };
  } finally {
    await client.end().catch(() => {});
  }
}
