// Child processes for tests: they die with the test process (PR_SET_PDEATHSIG via setpriv, so even a
// SIGKILLed test runner leaves nothing behind), log to a file, and are stopped in reverse start order.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, openSync } from 'node:fs';

export interface Managed {
  name: string;
  child: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

const running = new Set<Managed>();
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const managed of running) managed.child.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const managed of running) managed.child.kill('SIGKILL');
      process.exit(130);
    });
  }
}

export interface StartOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Run as this user (e.g. PostgreSQL refuses root). */
  user?: string;
  /** Keep running after the test process exits (for `make cluster`). */
  detached?: boolean;
}

export function startProcess(
  name: string,
  command: string,
  args: string[],
  logFile: string,
  options: StartOptions = {},
): Managed {
  installExitHooks();
  const wrapper = ['--pdeathsig', 'SIGKILL'];
  if (options.user) wrapper.push(`--reuid=${options.user}`, `--regid=${options.user}`, '--init-groups');
  const child = options.detached
    ? spawn(command, args, {
        cwd: options.cwd,
        env: { ...process.env, ...options.env },
        stdio: ['ignore', openSync(logFile, 'a'), openSync(logFile, 'a')],
        detached: true,
      })
    : spawn('setpriv', [...wrapper, '--', command, ...args], {
        cwd: options.cwd,
        env: { ...process.env, ...options.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
  if (child.stdout && child.stderr) {
    const log = createWriteStream(logFile, { flags: 'a' });
    // Two sources, one file: neither pipe may end the stream; it closes when the process is gone.
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    child.once('close', () => log.end());
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const managed: Managed = {
    name,
    child,
    logFile,
    exited,
    async stop(signal = 'SIGTERM', graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  if (!options.detached) {
    running.add(managed);
    void exited.then(() => running.delete(managed));
  } else {
    child.unref();
  }
  return managed;
}

/** Polls `check` until it returns true; fails with `what` and the last error after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`,
  );
}
