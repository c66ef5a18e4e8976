// `callfleet memory backup|restore|backups|rekey|keys`: backups in the team's bucket, key rotation and
// the keyring's own backup. Database and encryption key come the same way as for the other memory
// commands (flags, --store NAME, environment); the bucket from flags or CALLFLEET_OBJECT_STORAGE
// (JSON, what the operator renders into the backup CronJob), credentials from the AWS SDK's chain
// (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or IRSA / workload identity).
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { backupToBucket, listBackups, restoreFromBucket } from '../memory/backup/bucket-backups.ts';
import { isEmpty } from '../memory/backup/restore.ts';
import { parseKeyring } from '../memory/store/crypto.ts';
import { keyringSecretManifest, openKeyring, sealKeyring } from '../memory/store/key-backup.ts';
import { rekey } from '../memory/store/rekey.ts';
import { Bucket, type BucketConfig, bucketConfigFromJson, bucketConfigSchema } from '../storage/bucket.ts';
import { connectionOptions, fail, resolveConnection, UsageError, withPool } from './memory.ts';
import { lookupMemoryStore } from './memory-store.ts';

export const BACKUP_COMMANDS = new Set(['backup', 'restore', 'backups', 'rekey', 'keys']);

const USAGE = `usage: callfleet memory <command> [options]

  backup [--keep N] [--max-age-days D]
                           dump the caller memory, sealed with the active key, to
                           <prefix>backups/memory-<time>.cfbackup; then keep the newest N (default 7)
                           and drop those older than D days (never the newest)
  restore [--from latest|KEY] [--if-empty]
                           restore a backup into the database (migrated first; refused when it already
                           holds caller data — with --if-empty that is a no-op, exit 0)
  backups                  list the backups in the bucket, newest first
  rekey [--batch N]        re-encrypt every row (and re-wrap every recording's data key) still under an
                           older key with the active key (the first in the keyring); safe to re-run
  keys export --out FILE   write the keyring sealed with the passphrase in CALLFLEET_KEY_PASSPHRASE
  keys import --in FILE [--secret-name NAME [-n NS]]
                           open a keyring backup: print the keyring, or a Secret manifest to apply

bucket (flags win over CALLFLEET_OBJECT_STORAGE, a JSON object with the same fields):
  --bucket NAME  --endpoint URL  --prefix P/  --region R  --path-style
credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or the pod's IRSA / workload identity.
database and key: --store NAME, --database-url, --encryption-key (see callfleet memory --help).
`;

/** The bucket flags, shared with `memory export|forget` (recordings live in the bucket). */
export const bucketOptions = {
  bucket: { type: 'string' },
  endpoint: { type: 'string' },
  prefix: { type: 'string' },
  region: { type: 'string' },
  'path-style': { type: 'boolean' },
} as const;

const ownOptions = {
  'encryption-key': { type: 'string' },
  ...bucketOptions,
  keep: { type: 'string' },
  'max-age-days': { type: 'string' },
  from: { type: 'string' },
  'if-empty': { type: 'boolean' },
  batch: { type: 'string' },
  out: { type: 'string' },
  in: { type: 'string' },
  'secret-name': { type: 'string' },
} as const;

// A function, not a module constant: ../cli.ts imports this module, so its exports are not ready yet
// while this module is evaluated.
const allOptions = () => ({ ...connectionOptions, ...ownOptions });
type Values = ReturnType<
  typeof parseArgs<{ options: ReturnType<typeof allOptions>; strict: true; allowPositionals: true }>
>['values'];
type BucketFlags = Partial<Record<'bucket' | 'endpoint' | 'prefix' | 'region', string>> & {
  'path-style'?: boolean;
};

function positiveInt(
  flag: string,
  value: string | undefined,
  fallback: number | undefined,
): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag}: a positive integer`);
  return n;
}

export function bucketFrom(values: BucketFlags, required: boolean): Bucket | undefined {
  const env = process.env.CALLFLEET_OBJECT_STORAGE;
  let base: Partial<BucketConfig> = {};
  if (env) base = bucketConfigFromJson(env);
  const merged = {
    ...base,
    ...(values.bucket ? { bucket: values.bucket } : {}),
    ...(values.endpoint ? { endpoint: values.endpoint } : {}),
    ...(values.prefix !== undefined ? { prefix: values.prefix } : {}),
    ...(values.region ? { region: values.region } : {}),
    ...(values['path-style'] ? { forcePathStyle: true } : {}),
  };
  if (!merged.bucket) {
    if (required) throw new UsageError('--bucket or CALLFLEET_OBJECT_STORAGE: required');
    return undefined;
  }
  const parsed = bucketConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`bucket ${issue?.path.join('.')}: ${issue?.message}`);
  }
  return new Bucket(parsed.data);
}

export async function runBackupCommand(sub: string, args: string[]): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: allOptions(),
      strict: true,
      allowPositionals: true,
    });
    if (sub !== 'keys' && positionals.length > 0)
      throw new UsageError(`unexpected argument: ${positionals[0]}`);
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    if (sub === 'keys') return await keys(positionals[0], values);
    const bucket = sub === 'rekey' ? bucketFrom(values, false) : bucketFrom(values, true);
    try {
      if (sub === 'backups' && bucket) {
        const list = await listBackups(bucket);
        process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        return 0;
      }
      const connection = await resolveConnection(values, true);
      const { encryptionKey } = connection;
      if (!encryptionKey)
        throw new UsageError('--encryption-key, --store NAME or CALLFLEET_ENCRYPTION_KEY: required');
      const ring = parseKeyring(encryptionKey);
      if (sub === 'backup' && bucket) {
        const keep = positiveInt('keep', values.keep, 7) as number;
        const maxAgeDays = positiveInt('max-age-days', values['max-age-days'], undefined);
        const result = await withPool(connection, (pool) =>
          backupToBucket(pool, bucket, ring, { keep, maxAgeDays }),
        );
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return 0;
      }
      if (sub === 'restore' && bucket) {
        const from = values.from ?? 'latest';
        const result = await withPool(connection, async (pool) => {
          if (values['if-empty']) {
            const { migrate } = await import('../memory/store/migrate.ts');
            await migrate(pool);
            if (!(await isEmpty(pool))) return { skipped: 'the database already holds caller data' };
          }
          return restoreFromBucket(pool, bucket, ring, from);
        });
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return 0;
      }
      if (sub === 'rekey') {
        const batch = positiveInt('batch', values.batch, 500) as number;
        const result = await withPool(connection, (pool) => rekey(pool, ring, { batch, bucket }));
        process.stdout.write(`${JSON.stringify(result)}\n`);
        const left = Object.values(result.remaining).reduce((a, b) => a + b, 0);
        return left === 0 ? 0 : 4;
      }
      throw new UsageError(`unknown memory command: ${sub}`);
    } finally {
      bucket?.destroy();
    }
  } catch (error) {
    return fail(error);
  }
}

async function keys(action: string | undefined, values: Values): Promise<number> {
  const passphrase = process.env.CALLFLEET_KEY_PASSPHRASE;
  if (!passphrase)
    throw new UsageError('CALLFLEET_KEY_PASSPHRASE: required (the passphrase of the key backup)');
  if (action === 'export') {
    if (!values.out) throw new UsageError('--out FILE: required');
    let encryptionKey = values['encryption-key'];
    if (!encryptionKey && values.store) {
      const found = await lookupMemoryStore({
        store: values.store,
        namespace: values.namespace,
        kubeconfig: values.kubeconfig,
        withEncryptionKey: true,
      });
      encryptionKey = found.encryptionKey;
    }
    encryptionKey ??= process.env.CALLFLEET_ENCRYPTION_KEY || undefined;
    if (!encryptionKey)
      throw new UsageError('--encryption-key, --store NAME or CALLFLEET_ENCRYPTION_KEY: required');
    const sealed = sealKeyring(encryptionKey, passphrase);
    writeFileSync(values.out, `${JSON.stringify(sealed, null, 2)}\n`, { mode: 0o600 });
    process.stdout.write(`${JSON.stringify({ out: values.out, keyIds: sealed.keyIds })}\n`);
    return 0;
  }
  if (action === 'import') {
    if (!values.in) throw new UsageError('--in FILE: required');
    const spec = openKeyring(readFileSync(values.in, 'utf8'), passphrase);
    if (values['secret-name'])
      process.stdout.write(keyringSecretManifest(values['secret-name'], values.namespace, spec));
    else process.stdout.write(`${spec}\n`);
    return 0;
  }
  throw new UsageError('keys: export or import');
}
