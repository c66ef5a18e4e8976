// Reproduces the image's runtime layout without Docker: copies what the Dockerfile's runtime stage copies
// into a temp dir, runs the same `npm ci --omit=dev`, and starts `callfleet operator` and `callfleet gateway`
// from there. A runtime file or dependency the Dockerfile forgets fails here. Also checks the Dockerfile's
// non-root user, pinned multi-stage base and init process.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from '../support/ports.ts';
import { startProcess, waitFor } from '../support/processes.ts';

const root = new URL('../../', import.meta.url).pathname;
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const run = promisify(execFile);

interface Stage {
  from: string;
  name: string;
  lines: string[];
}

/** The Dockerfile's stages with their instructions (continuation lines joined, ARGs substituted). */
export function stages(text: string): Stage[] {
  const args = new Map<string, string>();
  const out: Stage[] = [];
  const joined = text.replace(/\\\n/g, ' ').split('\n');
  for (const raw of joined) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const arg = /^ARG\s+(\w+)=(\S+)/.exec(line);
    if (arg && !out.length) args.set(arg[1] ?? '', arg[2] ?? '');
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) {
      const image = (from[1] ?? '').replace(/\$\{(\w+)\}/g, (_m, name: string) => args.get(name) ?? '');
      out.push({ from: image, name: from[2] ?? '', lines: [] });
      continue;
    }
    out.at(-1)?.lines.push(line);
  }
  return out;
}

const runtime = stages(dockerfile).at(-1) as Stage;

describe('Dockerfile', () => {
  it('is multi-stage on a pinned node:24 base', () => {
    const all = stages(dockerfile);
    assert.ok(all.length >= 2, 'multi-stage');
    for (const stage of all)
      assert.match(stage.from, /^node:24\.\d+\.\d+-(alpine\d+\.\d+|bookworm-slim)(@sha256:[a-f0-9]{64})?$/);
  });

  it('installs production dependencies only with npm ci --omit=dev', () => {
    assert.ok(stages(dockerfile).some((s) => s.lines.some((l) => /^RUN .*npm ci .*--omit=dev/.test(l))));
  });

  it('runs as a non-root numeric user, under tini as PID 1, with a HEALTHCHECK', () => {
    const user = runtime.lines.filter((l) => l.startsWith('USER ')).at(-1);
    assert.match(user ?? '', /^USER [1-9]\d{3,}(:[1-9]\d{3,})?$/);
    const entrypoint = JSON.parse(runtime.lines.find((l) => l.startsWith('ENTRYPOINT '))?.slice(11) ?? '[]');
    assert.deepEqual(entrypoint.slice(0, 2), ['/sbin/tini', '--']);
    assert.deepEqual(entrypoint.slice(2), ['node', 'bin/callfleet.ts']);
    assert.ok(runtime.lines.some((l) => l.startsWith('RUN ') && l.includes('apk add --no-cache tini')));
    assert.ok(runtime.lines.some((l) => l.startsWith('HEALTHCHECK ')));
  });

  it('.dockerignore keeps the build context to what the image copies', () => {
    const ignore = readFileSync(join(root, '.dockerignore'), 'utf8');
    assert.match(ignore, /^\*$/m);
    for (const copy of runtime.lines.filter((l) => l.startsWith('COPY ') && !l.includes('--from'))) {
      for (const src of copy.split(/\s+/).slice(1, -1)) assert.match(ignore, new RegExp(`^!${src}/?$`, 'm'));
    }
  });
});

describe('the image runtime layout (no Docker)', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'callfleet-image-'));
  const app = join(dir, 'app');
  before(async () => {
    // The deps stage: package.json + package-lock.json, npm ci --omit=dev.
    for (const line of runtime.lines.filter((l) => l.startsWith('COPY ') && !l.includes('--from'))) {
      const parts = line.split(/\s+/).slice(1);
      const dest = parts.pop() as string;
      for (const src of parts) {
        const target = dest.endsWith('/') ? join(app, dest, src) : join(app, dest);
        cpSync(join(root, src), target, { recursive: true, filter: (p) => !p.endsWith('.test.ts') });
      }
    }
    const npm = (args: string[]) =>
      run('npm', [...args, '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], {
        cwd: app,
        env: { ...process.env, NODE_ENV: 'production' },
        maxBuffer: 16 * 1024 * 1024,
      });
    try {
      await npm(['ci']);
    } catch (error) {
      // The local registry mirror lacks Biome's non-Linux binaries, so the lock file cannot list them and
      // `npm ci` refuses it; those are optional dev dependencies, never in the image. Install the same
      // locked production tree with `npm install` then; any other failure is real.
      const missing = [...String((error as { stderr?: string }).stderr).matchAll(/Missing: (\S+)@/g)].map(
        (m) => m[1],
      );
      if (!missing.length || !missing.every((name) => name?.startsWith('@biomejs/cli-'))) throw error;
      await npm(['install', '--no-save']);
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('has no dev-only package in node_modules', () => {
    const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8'));
    const devOnly = Object.entries(lock.packages as Record<string, { dev?: boolean }>)
      .filter(([path, entry]) => path && entry.dev)
      .map(([path]) => path);
    assert.ok(devOnly.includes('node_modules/typescript'));
    assert.deepEqual(
      devOnly.filter((path) => existsSync(join(app, path))),
      [],
    );
  });

  it('`callfleet gateway` starts and /health answers 200', async () => {
    const port = await freePort();
    const internalPort = await freePort();
    const config = join(dir, 'gateway.json');
    writeFileSync(config, JSON.stringify({ publicBaseUrl: 'https://calls.example.com' }));
    const gateway = startProcess(
      'image-gateway',
      process.execPath,
      [join(app, 'bin/callfleet.ts'), 'gateway'],
      join(dir, 'gateway.log'),
      {
        cwd: app,
        env: {
          CALLFLEET_GATEWAY_CONFIG: config,
          TWILIO_AUTH_TOKEN: 'test-token',
          CALLFLEET_STREAM_KEY: 'test-stream-key-0123456789abcdefghijklmnop',
          PORT: String(port),
          CALLFLEET_INTERNAL_PORT: String(internalPort),
          HOST: '127.0.0.1',
          NODE_ENV: 'production',
        },
      },
    );
    try {
      await waitFor(
        'gateway /health',
        async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok,
        30_000,
      );
      const metrics = await (await fetch(`http://127.0.0.1:${internalPort}/metrics`)).text();
      assert.match(metrics, /callfleet_active_calls/);
    } finally {
      await gateway.stop('SIGTERM', 10_000);
    }
  });

  it('`callfleet operator` starts and /healthz answers 200', async () => {
    const port = await freePort();
    const kubeconfig = join(dir, 'kubeconfig');
    // An API server nobody listens on: the process must still start and serve its health endpoint.
    writeFileSync(
      kubeconfig,
      'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n',
    );
    const operator = startProcess(
      'image-operator',
      process.execPath,
      [
        join(app, 'bin/callfleet.ts'),
        'operator',
        `--kubeconfig=${kubeconfig}`,
        `--metrics-addr=127.0.0.1:${port}`,
        '--lease-namespace=default',
      ],
      join(dir, 'operator.log'),
      { cwd: app, env: { NODE_ENV: 'production' } },
    );
    try {
      await waitFor(
        'operator /healthz',
        async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok,
        30_000,
      );
      assert.match(
        await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
        /callfleet_operator_reconciles_total/,
      );
    } finally {
      await operator.stop('SIGTERM', 10_000);
    }
  });
});
