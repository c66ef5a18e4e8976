// `callfleet migrate` and `callfleet memory export|forget|audit`. Connection details come from flags,
// from a MemoryStore looked up through the Kubernetes API (`--store NAME`: its connection and
// encryption Secrets), or from the environment (CALLFLEET_MEMORY_URL, CALLFLEET_ENCRYPTION_KEY).
// Nothing printed here ever contains a phone number except the export document itself, which is the
// point of an export.
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { parseKeyring } from '../memory/store/crypto.ts';
import { exportCaller, forgetCaller, listAudit } from '../memory/store/data-rights.ts';
import { migrate } from '../memory/store/migrate.ts';
import { createPool } from '../memory/store/pool.ts';
import { saveRecording } from '../recording/export.ts';
import { BACKUP_COMMANDS, bucketFrom, bucketOptions, runBackupCommand } from './memory-backup.ts';
import { assertHostResolves, lookupMemoryStore, overrideHost, StoreLookupError } from './memory-store.ts';

export const connectionOptions = {
  'database-url': { type: 'string' },
  store: { type: 'string' },
  kubeconfig: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  host: { type: 'string' },
  'ca-file': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export class UsageError extends Error {}

export interface ConnectionFlags {
  'database-url'?: string;
  'encryption-key'?: string;
  store?: string;
  kubeconfig?: string;
  namespace?: string;
  host?: string;
  'ca-file'?: string;
}

interface Connection {
  url: string;
  encryptionKey?: string;
  /** PEM CA: verify-full. */
  ca?: string;
  /** The name the certificate must carry when --host dials another address. */
  serverName?: string;
}

/**
 * Precedence: --database-url, then --store (the MemoryStore's Secrets), then CALLFLEET_MEMORY_URL;
 * --encryption-key, then the store's key Secret, then CALLFLEET_ENCRYPTION_KEY. --host replaces the
 * URL's host:port whichever way it came.
 */
export async function resolveConnection(
  values: ConnectionFlags,
  withEncryptionKey: boolean,
): Promise<Connection> {
  const explicitKey = values['encryption-key'];
  let url = values['database-url'];
  let source = '--database-url';
  let encryptionKey = explicitKey;
  let ca: string | undefined;
  if (!url && values.store) {
    const found = await lookupMemoryStore({
      store: values.store,
      namespace: values.namespace,
      kubeconfig: values.kubeconfig,
      withEncryptionKey: withEncryptionKey && !explicitKey,
    });
    url = found.url;
    source = found.urlSource;
    encryptionKey ??= found.encryptionKey;
    ca = found.ca;
  }
  if (!url && process.env.CALLFLEET_MEMORY_URL) {
    url = process.env.CALLFLEET_MEMORY_URL;
    source = 'CALLFLEET_MEMORY_URL';
  }
  if (!url) throw new UsageError('--database-url, --store NAME or CALLFLEET_MEMORY_URL: required');
  const caFile = values['ca-file'] ?? (process.env.CALLFLEET_MEMORY_CA_FILE || undefined);
  if (caFile) {
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (error) {
      throw new UsageError(`--ca-file ${caFile}: ${(error as Error).message}`);
    }
  }
  let serverName: string | undefined;
  if (values.host) {
    if (ca) serverName = hostOf(url);
    url = overrideHost(url, values.host);
  } else await assertHostResolves(url, source);
  encryptionKey ??= process.env.CALLFLEET_ENCRYPTION_KEY || undefined;
  return { url, encryptionKey, ...(ca ? { ca } : {}), ...(serverName ? { serverName } : {}) };
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname || undefined;
  } catch {
    return undefined;
  }
}

export async function withPool<T>(
  { url, ca, serverName }: Connection,
  fn: (pool: pg.Pool) => Promise<T>,
): Promise<T> {
  const pool = createPool(url, {
    ...(ca ? { ca } : {}),
    ...(serverName ? { serverName } : {}),
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

export function fail(error: unknown): number {
  if (error instanceof StoreLookupError) {
    process.stderr.write(`error: ${error.message}\n`);
    return 1;
  }
  if (error instanceof UsageError || (error as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  process.stderr.write(`error: ${(error as Error)?.message ?? String(error)}\n`);
  return 1;
}

const MIGRATE_USAGE = `usage: callfleet migrate [--database-url URL | --store NAME [-n NS] [--kubeconfig PATH] [--host HOST:PORT]] [--ca-file PATH]\n
Applies the caller-memory schema migrations (idempotent; safe from many pods at once).
Connection: --database-url, the MemoryStore --store NAME, or CALLFLEET_MEMORY_URL.\n`;

export async function runMigrate(args: string[]): Promise<number> {
  try {
    const { values } = parseArgs({ args, options: connectionOptions, strict: true });
    if (values.help) {
      process.stdout.write(MIGRATE_USAGE);
      return 0;
    }
    const connection = await resolveConnection(values, false);
    const result = await withPool(connection, (pool) => migrate(pool));
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  } catch (error) {
    return fail(error);
  }
}

const MEMORY_USAGE = `usage: callfleet memory <export|forget|audit|backup|restore|backups|rekey|keys> [options]

  export --phone +E164     print every record about the caller as one JSON document (decrypted)
  forget --phone +E164     delete every record about the caller, in one transaction, and audit it
  audit [--limit N] [--action forget|export]
                           list data-rights audit entries (no personal data)

connection (flags win over --store, which wins over the environment):
  --store NAME             read the URL, the CA and the encryption key from the MemoryStore's Secrets
                           (status.connectionSecret, status.caBundle, spec.encryption.keySecretRef)
                           via the Kubernetes API
  -n, --namespace NS       the MemoryStore's namespace (default: the kubeconfig context's, else default)
  --kubeconfig PATH        default: $KUBECONFIG, then ~/.kube/config, then in-cluster
  --host HOST:PORT         connect here instead of the URL's host (the Secret holds the in-cluster
                           Service name; e.g. after kubectl port-forward svc/NAME-postgres 5432);
                           with a CA the certificate must still name the URL's host (verify-full)
  --ca-file PATH           or CALLFLEET_MEMORY_CA_FILE: the server's CA, TLS with verify-full
  --database-url URL       or CALLFLEET_MEMORY_URL
  --encryption-key KEYS    or CALLFLEET_ENCRYPTION_KEY ("id:base64,..." active key first)
  --actor WHO              who asks (recorded in the audit entry; default: the OS user)
  --recordings-dir DIR     export: also write the caller's call recordings there, decrypted (stereo WAV)
  --bucket NAME ...        the bucket of the call recordings (or CALLFLEET_OBJECT_STORAGE); forget
                           deletes the recordings there and refuses to run without it when there are any

backups, key rotation and the keyring backup: callfleet memory backup --help
`;

export async function runMemory(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub && BACKUP_COMMANDS.has(sub)) return runBackupCommand(sub, rest);
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
        'recordings-dir': { type: 'string' },
        ...bucketOptions,
      },
      strict: true,
    });
    if (values.help) {
      process.stdout.write(MEMORY_USAGE);
      return 0;
    }
    if (sub !== 'audit' && sub !== 'export' && sub !== 'forget')
      throw new UsageError(`unknown memory command: ${sub}\n\n${MEMORY_USAGE}`);
    const needsKey = sub !== 'audit';
    if (needsKey && !values.phone) throw new UsageError('--phone: required (E.164, e.g. +14155550100)');
    const connection = await resolveConnection(values, needsKey);
    const { encryptionKey } = connection;
    const actor = values.actor ?? process.env.CALLFLEET_ACTOR ?? safeUser();
    if (sub === 'audit') {
      const limit = values.limit ? Number(values.limit) : 100;
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit: a positive integer');
      if (values.action && values.action !== 'forget' && values.action !== 'export') {
        throw new UsageError('--action: forget or export');
      }
      const action = values.action as 'forget' | 'export' | undefined;
      const entries = await withPool(connection, (pool) =>
        listAudit(pool, { limit, ...(action ? { action } : {}) }),
      );
      process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
      return 0;
    }
    if (!values.phone) throw new UsageError('--phone: required (E.164, e.g. +14155550100)');
    if (!encryptionKey) {
      throw new UsageError('--encryption-key, --store NAME or CALLFLEET_ENCRYPTION_KEY: required');
    }
    const keyring = parseKeyring(encryptionKey);
    const phone = values.phone;
    const bucket = bucketFrom(values, values['recordings-dir'] !== undefined);
    try {
      if (sub === 'export') {
        const doc = await withPool(connection, (pool) => exportCaller(pool, keyring, phone, actor));
        const dir = values['recordings-dir'];
        if (dir && bucket) {
          for (const r of doc.recordings) {
            (r as typeof r & { file?: string }).file = await saveRecording(bucket, keyring, r, dir);
          }
        }
        process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
        return doc.found ? 0 : 3;
      }
      const result = await withPool(connection, (pool) => forgetCaller(pool, keyring, phone, actor, bucket));
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return 0;
    } finally {
      bucket?.destroy();
    }
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
