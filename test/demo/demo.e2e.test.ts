// `make demo` end to end, non-interactively: the demo script runs against its own run dir with
// CALLFLEET_DEMO_DOWN=1 (tear down after the summary), exits 0, prints the summary table with every call
// completed, none cut and call 2 greeted with memory, and leaves no process, pod IP or state behind.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';

const root = new URL('../../', import.meta.url).pathname;
const runDir = mkdtempSync(join(tmpdir(), 'callfleet-demo-'));

function runDemo(): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'test/demo/demo.ts'), 'up'], {
      cwd: root,
      env: {
        ...process.env,
        CALLFLEET_DEMO_DOWN: '1',
        CALLFLEET_DEMO_RUN_DIR: runDir,
        NODE_TEST_CONTEXT: undefined,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (process.env.CALLFLEET_E2E_VERBOSE) process.stdout.write(d);
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('exit', (code) => resolve({ code, out }));
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('make demo [e2e]', { timeout: 420_000 }, () => {
  after(async () => {
    // A failed or interrupted demo may have left its helper running: stop it before removing its dir.
    await promisify(execFile)(process.execPath, [join(root, 'test/demo/demo.ts'), 'down'], {
      cwd: root,
      env: { ...process.env, CALLFLEET_DEMO_RUN_DIR: runDir, NODE_TEST_CONTEXT: undefined },
    }).catch(() => {});
    rmSync(runDir, { recursive: true, force: true });
  });

  it('runs the whole system, prints the summary (0 cut, memory hit), and cleans up', async () => {
    const started = Date.now();
    const { code, out } = await runDemo();
    console.log(`[figures] demo (warm tools) ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.equal(code, 0, out);
    assert.match(out, /== callfleet demo summary ==/);
    for (const pod of [
      /callfleet-\w+-\w+\s+callfleet-system/,
      /callers-postgres-0\s+demo/,
      /receptionist-\w+-\w+\s+demo/,
    ])
      assert.match(out, pod);
    const row = (name: string) =>
      Number(new RegExp(`^\\s+${name}\\s+(\\d+)`, 'm').exec(out)?.[1] ?? Number.NaN);
    assert.equal(row('calls placed'), 11, out);
    assert.equal(row('calls completed'), 11, out);
    assert.equal(row('calls cut'), 0, out);
    assert.ok(row('memory hits') >= 1, out);
    assert.match(out, /call 2 from \+1\*{6}0101: stream, ended by caller, .* welcome-back chime/);
    assert.match(out, /rolling update\s+[\d.]+ s under 8 live calls, 0 cut/);
    assert.match(out, /kubectl get va/);
    assert.match(out, /callfleet\.ts call --url http:\/\/127\.0\.0\.1:\d+/);
    // Torn down: no helper, no pod IPs of its, no state.
    const pid = Number(/helper pid (\d+)/.exec(out)?.[1]);
    assert.ok(pid > 0);
    assert.equal(alive(pid), false);
    const { stdout } = await promisify(execFile)('ip', ['-4', '-o', 'addr', 'show', 'dev', 'lo']);
    assert.doesNotMatch(stdout, new RegExp(`lo:cf${pid}\\b`));
    assert.equal(existsSync(join(runDir, 'demo.json')), false);
  });
});
