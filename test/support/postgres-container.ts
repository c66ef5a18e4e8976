// What the process kubelet runs for a `postgres:*` image: the official image's entrypoint, locally.
// On an empty PGDATA it runs initdb with POSTGRES_USER / POSTGRES_PASSWORD (scram) and creates
// POSTGRES_DB; then it runs Debian's postgres on HOST (the pod IP):5432 and forwards SIGTERM/SIGINT
// (smart/fast shutdown), exiting with postgres's code. As root it drops to nobody, as postgres wants.
// Usage: node test/support/postgres-container.ts [postgres args...]
import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  realpathSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { PG_BIN } from './postgres.ts';

const env = process.env;
const user = env.POSTGRES_USER || 'postgres';
const db = env.POSTGRES_DB || user;
// The real path: the pod dir above a mounted volume is not for nobody to traverse.
const requested = env.PGDATA || '/var/lib/postgresql/data';
mkdirSync(requested, { recursive: true });
const data = realpathSync(requested);
const host = env.HOST || '127.0.0.1';
const port = env.PGPORT || '5432';
const root = process.getuid?.() === 0;
// pdeathsig: postgres dies with this wrapper, even when the kubelet SIGKILLs it.
const asUser = (cmd: string, args: string[]): [string, string[]] => [
  'setpriv',
  [
    '--pdeathsig',
    'SIGKILL',
    ...(root ? ['--reuid=nobody', '--regid=nogroup', '--clear-groups'] : []),
    '--',
    cmd,
    ...args,
  ],
];
const chown = (path: string) => {
  if (root) execFileSync('chown', ['-R', 'nobody:nogroup', path]);
};

chmodSync(data, 0o700);
chown(data);
const socketDir = join(data, '..', `.s-${process.pid}`);
mkdirSync(socketDir, { recursive: true });
chown(socketDir);

if (readdirSync(data).length === 0 || !existsSync(join(data, 'PG_VERSION'))) {
  const pwfile = join(socketDir, 'pw');
  writeFileSync(pwfile, env.POSTGRES_PASSWORD ?? '', { mode: 0o600 });
  chown(pwfile);
  const auth = env.POSTGRES_PASSWORD ? ['--auth=scram-sha-256', `--pwfile=${pwfile}`] : ['--auth=trust'];
  const [cmd, args] = asUser(join(PG_BIN, 'initdb'), [
    '-D',
    data,
    '-U',
    user,
    ...auth,
    '-E',
    'UTF8',
    '--locale=C',
    '--no-sync',
  ]);
  execFileSync(cmd, args, { stdio: 'inherit' });
  writeFileSync(
    join(data, 'pg_hba.conf'),
    `local all all trust\nhost all all 0.0.0.0/0 ${env.POSTGRES_PASSWORD ? 'scram-sha-256' : 'trust'}\n`,
  );
  chown(data);
  if (db !== 'postgres') {
    const [c2, a2] = asUser(join(PG_BIN, 'postgres'), ['--single', '-D', data, 'postgres']);
    execFileSync(c2, a2, {
      input: `CREATE DATABASE "${db.replace(/"/g, '""')}";\n`,
      stdio: ['pipe', 'ignore', 'inherit'],
    });
  }
}

// Files named by settings (TLS key and certificate, pg_hba.conf) come from Secret and ConfigMap volumes
// the kubelet wrote as root: copy them where postgres (nobody) may read them, 0600 as it wants a key.
const FILE_SETTINGS = /^(ssl_key_file|ssl_cert_file|ssl_ca_file|hba_file)=(.+)$/;
const extra = process.argv
  .slice(2)
  .filter((a) => a !== 'postgres')
  .map((a) => {
    const m = FILE_SETTINGS.exec(a);
    if (!m?.[1] || !m[2]) return a;
    const copy = join(socketDir, m[1]);
    copyFileSync(m[2], copy);
    chmodSync(copy, 0o600);
    chown(copy);
    return `${m[1]}=${copy}`;
  });
const [cmd, args] = asUser(join(PG_BIN, 'postgres'), [
  '-D',
  data,
  '-c',
  `listen_addresses=${host}`,
  '-p',
  port,
  '-k',
  socketDir,
  '-c',
  'fsync=off',
  ...extra,
]);
const child = spawn(cmd, args, { stdio: 'inherit' });
for (const signal of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGKILL' ? 137 : 143)));
