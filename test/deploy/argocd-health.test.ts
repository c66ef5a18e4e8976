// The Argo CD health checks (deploy/argocd/health/*.lua) run under a real Lua 5.4 interpreter the way Argo CD
// runs them: the object as the global `obj`, the script's returned table is the health.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';

const dir = new URL('../../deploy/argocd/', import.meta.url).pathname;
const health = join(dir, 'health');
const tmp = mkdtempSync(join(tmpdir(), 'callfleet-lua-'));

/** A JSON value as a Lua literal (objects → tables with string keys, arrays → sequences). */
export function toLua(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `{${value.map(toLua).join(', ')}}`;
  const entries = Object.entries(value as Record<string, unknown>).map(
    ([k, v]) => `[${JSON.stringify(k)}] = ${toLua(v)}`,
  );
  return `{${entries.join(', ')}}`;
}

/** Runs a health script against an object; returns the table it returns. */
export function runHealth(script: string, object: unknown): { status: string; message: string } {
  const harness = join(tmp, 'harness.lua');
  writeFileSync(
    harness,
    `obj = ${toLua(object)}
local chunk = assert(loadfile(${JSON.stringify(join(health, script))}))
local hs = chunk()
io.write(hs.status, "\\n", hs.message or "")
`,
  );
  const [status = '', message = ''] = execFileSync('lua5.4', [harness], { encoding: 'utf8' }).split(
    /\n(.*)/s,
  );
  return { status, message };
}

interface HealthTest {
  script: string;
  inputPath: string;
  healthStatus: { status: string; message: string };
}

describe('Argo CD health checks', () => {
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const { tests } = parse(readFileSync(join(health, 'health_test.yaml'), 'utf8')) as { tests: HealthTest[] };

  for (const test of tests) {
    it(`${test.script} → ${test.healthStatus.status} for ${test.inputPath}`, () => {
      const object = parse(readFileSync(join(health, test.inputPath), 'utf8'));
      assert.deepEqual(runHealth(test.script, object), test.healthStatus);
    });
  }

  it('covers Healthy, Progressing and Degraded for both kinds', () => {
    for (const script of ['voiceagent.lua', 'memorystore.lua']) {
      const statuses = new Set(tests.filter((t) => t.script === script).map((t) => t.healthStatus.status));
      assert.deepEqual([...statuses].sort(), ['Degraded', 'Healthy', 'Progressing']);
    }
  });

  it('argocd-cm-patch.yaml carries the scripts verbatim', () => {
    const patch = parse(readFileSync(join(dir, 'argocd-cm-patch.yaml'), 'utf8')) as {
      data: Record<string, string>;
    };
    assert.equal(
      patch.data['resource.customizations.health.callfleet.io_VoiceAgent'],
      readFileSync(join(health, 'voiceagent.lua'), 'utf8'),
    );
    assert.equal(
      patch.data['resource.customizations.health.callfleet.io_MemoryStore'],
      readFileSync(join(health, 'memorystore.lua'), 'utf8'),
    );
  });

  it('the example Application uses ServerSideApply and ignores VoiceAgent replicas', () => {
    const apps = readFileSync(join(dir, 'application.yaml'), 'utf8')
      .split(/^---$/m)
      .map((d) => parse(d));
    for (const app of apps) {
      assert.ok(app.spec.syncPolicy.syncOptions.includes('ServerSideApply=true'));
      assert.ok(
        app.spec.ignoreDifferences.some(
          (d: { kind: string; jsonPointers: string[] }) =>
            d.kind === 'VoiceAgent' && d.jsonPointers.includes('/spec/replicas'),
        ),
      );
    }
  });
});
