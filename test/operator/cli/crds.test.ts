// `callfleet crds`: --out writes, --check passes on fresh output and fails listing stale files.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { repoPath } from '../../cdk8s/api/examples.ts';

const run = async (args: string[]) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [
      repoPath('bin', 'callfleet.ts'),
      'crds',
      ...args,
    ]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

const dir = mkdtempSync(join(tmpdir(), 'callfleet-crds-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('--out writes one file per kind and --check accepts it', async () => {
  assert.equal((await run(['--out', dir])).code, 0);
  assert.deepEqual(readdirSync(dir).sort(), [
    'callfleet.io_callcampaigns.yaml',
    'callfleet.io_memorystores.yaml',
    'callfleet.io_voiceagents.yaml',
  ]);
  assert.equal((await run(['--check', dir])).code, 0);
});

test('--check exits 1 and lists stale files', async () => {
  writeFileSync(join(dir, 'callfleet.io_voiceagents.yaml'), '# stale\n');
  const res = await run(['--check', dir]);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /callfleet\.io_voiceagents\.yaml/);
  assert.doesNotMatch(res.stderr, /memorystores/);
});

test('the repository crds/ is up to date', async () => {
  assert.equal((await run(['--check', repoPath('crds')])).code, 0);
});
