// Runs `node bin/callfleet.ts ...` as its own process, the way an operator runs it from a shell.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `callfleet <args>` with this process's environment plus `env`; resolves when it has exited. */
export function runCallfleet(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/callfleet.ts', ...args], {
      cwd: root,
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `callfleet memory <args>`: no database URL or encryption key from the environment unless `env` sets them. */
export function runMemoryCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCallfleet(['memory', ...args], {
    CALLFLEET_MEMORY_URL: '',
    CALLFLEET_ENCRYPTION_KEY: '',
    ...env,
  });
}
