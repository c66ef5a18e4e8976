// `callfleet migrate` and `callfleet memory export|forget|audit`. Connection details come from flags or
// the environment (CALLFLEET_MEMORY_URL, CALLFLEET_ENCRYPTION_KEY), i.e. from the MemoryStore's
// connection and encryption Secrets. Nothing printed here ever contains a phone number except the
// export document itself, which is the point of an export.
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { parseKeyring } from './crypto.ts';
import { exportCaller, forgetCaller, listAudit } from './data-rights.ts';
import { migrate } from './migrate.ts';
import { createPool } from './pool.ts';

const connectionOptions = {
  'database-url': { type: 'string' },
  store: { type: 'string' },
  kubeconfig: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

function databaseUrl(values: { 'database-url'?: string; store?: string }): string {
  const url = values['database-url'] ?? process.env.CALLFLEET_MEMORY_URL;
  if (url) return url;
  if (values.store) {
    throw new UsageError(
      `--store ${values.store}: looking up a MemoryStore's connection Secret through the Kubernetes API comes with the operator; ` +
        'for now pass --database-url or set CALLFLEET_MEMORY_URL (the Secret named in the MemoryStore status.connectionSecret)',
    );
  }
  throw new UsageError('--database-url or CALLFLEET_MEMORY_URL: required');
}

async function withPool<T>(url: string, fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const pool = createPool(url, {
    max: 2,
    statementTimeoutMs: 60_000,
    connectTimeoutMs: 10_000,
    applicationName: 'callfleet-cli',
  });
  try {
    return await fn(pool);
  } finally {
    await pool.end().catch(() => {});
  }
}

function fail(error: unknown): number {
  if (error instanceof UsageError || (error as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  process.stderr.write(`error: ${(error as Error)?.message ?? String(error)}\n`);
  return 1;
}

const MIGRATE_USAGE = `usage: callfleet migrate [--database-url URL]\n
Applies the caller-memory schema migrations (idempotent; safe from many pods at once).
Connection: --database-url or CALLFLEET_MEMORY_URL.\n`;

export async function runMigrate(args: string[]): Promise<number> {
  try {
    const { values } = parseArgs({ args, options: connectionOptions, strict: true });
    if (values.help) {
      process.stdout.write(MIGRATE_USAGE);
      return 0;
    }
    const result = await withPool(databaseUrl(values), (pool) => migrate(pool));
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  } catch (error) {
    return fail(error);
  }
}

const MEMORY_USAGE = `usage: callfleet memory <export|forget|audit> [options]

  export --phone +E164     print every record about the caller as one JSON document (decrypted)
  forget --phone +E164     delete every record about the caller, in one transaction, and audit it
  audit [--limit N] [--action forget|export]
                           list data-rights audit entries (no personal data)

connection:
  --database-url URL       or CALLFLEET_MEMORY_URL
  --encryption-key KEYS    or CALLFLEET_ENCRYPTION_KEY ("id:base64,..." active key first)
  --store NAME             MemoryStore name (Kubernetes lookup: comes with the operator)
  --actor WHO              who asks (recorded in the audit entry; default: the OS user)
`;

export async function runMemory(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  try {
    if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
      process.stdout.write(MEMORY_USAGE);
      return sub ? 0 : 2;
    }
    const { values } = parseArgs({
      args: rest,
      options: {
        ...connectionOptions,
        'encryption-key': { type: 'string' },
        phone: { type: 'string' },
        actor: { type: 'string' },
        limit: { type: 'string' },
        action: { type: 'string' },
      },
      strict: true,
    });
    if (values.help) {
      process.stdout.write(MEMORY_USAGE);
      return 0;
    }
    const url = databaseUrl(values);
    const actor = values.actor ?? process.env.CALLFLEET_ACTOR ?? safeUser();
    if (sub === 'audit') {
      const limit = values.limit ? Number(values.limit) : 100;
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit: a positive integer');
      if (values.action && values.action !== 'forget' && values.action !== 'export') {
        throw new UsageError('--action: forget or export');
      }
      const action = values.action as 'forget' | 'export' | undefined;
      const entries = await withPool(url, (pool) =>
        listAudit(pool, { limit, ...(action ? { action } : {}) }),
      );
      process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
      return 0;
    }
    if (sub !== 'export' && sub !== 'forget')
      throw new UsageError(`unknown memory command: ${sub}\n\n${MEMORY_USAGE}`);
    if (!values.phone) throw new UsageError('--phone: required (E.164, e.g. +14155550100)');
    const keySpec = values['encryption-key'] ?? process.env.CALLFLEET_ENCRYPTION_KEY;
    if (!keySpec) throw new UsageError('--encryption-key or CALLFLEET_ENCRYPTION_KEY: required');
    const keyring = parseKeyring(keySpec);
    const phone = values.phone;
    if (sub === 'export') {
      const doc = await withPool(url, (pool) => exportCaller(pool, keyring, phone, actor));
      process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
      return doc.found ? 0 : 3;
    }
    const result = await withPool(url, (pool) => forgetCaller(pool, keyring, phone, actor));
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  } catch (error) {
    return fail(error);
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** `callfleet memory` as a sub-command module. */
export const run = runMemory;
