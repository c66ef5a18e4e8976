// A throwaway PostgreSQL cluster for tests: Debian's PostgreSQL 15 binaries, initdb into a fresh temp
// dir, owned by an unprivileged user (postgres refuses to run as root), listening on 127.0.0.1 with a
// free port and its unix socket inside the temp dir. fsync is off: the data is disposable. The server
// runs under `setpriv --pdeathsig SIGKILL`, so it dies with the test process even when that is killed.
//
// initdb costs about a second, so the first cluster of a process is initialised into a template dir
// that later clusters copy (cp -a), which takes a few milliseconds.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.ts';

export const PG_BIN = process.env.CALLFLEET_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const RUN_AS = process.env.CALLFLEET_PG_USER ?? 'nobody';
const RUN_GROUP = process.env.CALLFLEET_PG_GROUP ?? 'nogroup';

export interface TestPostgres {
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  url: string;
  port: number;
  dataDir: string;
  /** Fast shutdown (SIGINT); idempotent. */
  stop(): Promise<void>;
  /** Starts the server again on the same port and data dir (after stop(), or stops it first). */
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the server and removes the temp dir. */
  destroy(): Promise<void>;
}

const live = new Set<{ child: ChildProcess | null; root: string }>();
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const entry of live) {
      entry.child?.kill('SIGKILL');
      try {
        rmSync(entry.root, { recursive: true, force: true });
      } catch {
        // best effort at exit
      }
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => process.exit(130));
  }
}

function asUser(command: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [command, args];
  return [
    'setpriv',
    [
      `--reuid=${RUN_AS}`,
      `--regid=${RUN_GROUP}`,
      '--clear-groups',
      '--pdeathsig',
      'SIGKILL',
      '--',
      command,
      ...args,
    ],
  ];
}

function chownToRunner(path: string): void {
  if (process.getuid?.() === 0) execFileSync('chown', ['-R', `${RUN_AS}:${RUN_GROUP}`, path]);
}

let templateDir: string | undefined;

function template(): string {
  if (templateDir && existsSync(templateDir)) return templateDir;
  if (!existsSync(join(PG_BIN, 'postgres'))) {
    throw new Error(`PostgreSQL binaries not found in ${PG_BIN}: run bash test/support/system-deps.sh`);
  }
  const root = mkdtempSync(join(tmpdir(), 'callfleet-pgtpl-'));
  live.add({ child: null, root });
  installExitHooks();
  chownToRunner(root);
  const data = join(root, 'data');
  const [cmd, args] = asUser(join(PG_BIN, 'initdb'), [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--locale=C',
    '--no-sync',
    '--no-instructions',
  ]);
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  templateDir = data;
  return data;
}

async function canConnect(url: string, tls = false): Promise<boolean> {
  // The readiness check only asks whether the server answers: with TLS it does not verify the certificate.
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 1000,
    ...(tls ? { ssl: { rejectUnauthorized: false } } : {}),
  });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Extra server settings (appended after the defaults, so they win), TLS files and a pg_hba.conf. */
export interface PostgresOptions {
  settings?: Record<string, string | number>;
  /** PEM server certificate and key: ssl=on with them. */
  tls?: { cert: string; key: string };
  /** pg_hba.conf content (default: the template's, trust for everyone). */
  hba?: string;
}

export async function startPostgres(options: PostgresOptions = {}): Promise<TestPostgres> {
  installExitHooks();
  const tpl = template();
  const root = mkdtempSync(join(tmpdir(), 'callfleet-pg-'));
  const dataDir = join(root, 'data');
  const socketDir = join(root, 'sock');
  execFileSync('cp', ['-a', tpl, dataDir]);
  execFileSync('mkdir', ['-p', socketDir]);
  const settings: Record<string, string | number> = { ...options.settings };
  if (options.tls) {
    writeFileSync(join(root, 'server.crt'), options.tls.cert);
    writeFileSync(join(root, 'server.key'), options.tls.key, { mode: 0o600 });
    Object.assign(settings, {
      ssl: 'on',
      ssl_cert_file: join(root, 'server.crt'),
      ssl_key_file: join(root, 'server.key'),
    });
  }
  if (options.hba !== undefined) {
    writeFileSync(join(root, 'pg_hba.conf'), options.hba);
    settings.hba_file = join(root, 'pg_hba.conf');
  }
  chownToRunner(root);
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const entry: { child: ChildProcess | null; root: string } = { child: null, root };
  live.add(entry);
  let exited: Promise<void> = Promise.resolve();
  let stderr = '';

  const start = async (): Promise<void> => {
    if (entry.child) return;
    const [cmd, args] = asUser(join(PG_BIN, 'postgres'), [
      '-D',
      dataDir,
      '-p',
      String(port),
      '-k',
      socketDir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=200',
      '-c',
      'shared_buffers=128MB',
      '-c',
      'log_min_messages=warning',
      ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    ]);
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    entry.child = child;
    exited = new Promise((resolve) =>
      child.once('exit', () => {
        if (entry.child === child) entry.child = null;
        resolve();
      }),
    );
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (!entry.child) throw new Error(`postgres exited during start: ${stderr}`);
      if (await canConnect(url, options.tls !== undefined)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`postgres did not accept connections within 20 s: ${stderr}`);
  };

  const stop = async (): Promise<void> => {
    const child = entry.child;
    if (!child) return;
    child.kill('SIGINT'); // fast shutdown: rolls back open transactions, closes connections
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  return {
    url,
    port,
    dataDir,
    stop,
    start,
    async restart() {
      await stop();
      await start();
    },
    async destroy() {
      await stop();
      live.delete(entry);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
