// `callfleet render`: multi-document YAML / JSON out, exit 1 with the field path on an invalid file.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { EXAMPLES, ROOT } from './fixtures.ts';

const cli = (...args: string[]) =>
  spawnSync(process.execPath, [join(ROOT, 'bin/callfleet.ts'), 'render', ...args], { encoding: 'utf8' });

describe('callfleet render', () => {
  const dir = mkdtempSync(join(tmpdir(), 'callfleet-render-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints multi-document YAML; a MemoryStore in the same file wires the VoiceAgent', () => {
    const file = join(dir, 'both.yaml');
    writeFileSync(
      file,
      [join(EXAMPLES, 'memorystore-external.yaml'), join(EXAMPLES, 'voiceagent-openai-realtime.yaml')]
        .map((f) =>
          spawnSync('cat', [f], { encoding: 'utf8' }).stdout.replace('name: callers-rds', 'name: callers'),
        )
        .join('\n---\n'),
    );
    const r = cli('-f', file);
    assert.equal(r.status, 0, r.stderr);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS());
    const deployment = docs.find((d) => d.kind === 'Deployment');
    const env = deployment.spec.template.spec.containers[0].env;
    const url = env.find((e: { name: string }) => e.name === 'CALLFLEET_MEMORY_URL');
    assert.deepEqual(url.valueFrom.secretKeyRef, { name: 'callers-rds', key: 'url' });
    assert.ok(docs.some((d) => d.kind === 'NetworkPolicy' && d.metadata.name === 'callers-egress'));
  });

  it('-o json prints a v1 List', () => {
    const r = cli('-f', join(EXAMPLES, 'voiceagent-echo.yaml'), '-o', 'json');
    assert.equal(r.status, 0, r.stderr);
    const list = JSON.parse(r.stdout);
    assert.equal(list.kind, 'List');
    assert.ok(list.items.some((o: { kind: string }) => o.kind === 'Deployment'));
  });

  for (const file of readdirSync(join(EXAMPLES, 'invalid')).filter((f) => f.endsWith('.yaml'))) {
    it(`invalid/${file}: exit 1 with the field path`, () => {
      const r = cli('-f', join(EXAMPLES, 'invalid', file));
      assert.equal(r.status, 1, r.stdout);
      assert.match(
        r.stderr,
        /document 1 \((VoiceAgent|MemoryStore|CallCampaign)[^)]*\): (spec|metadata)[.\w[\]]*: /,
      );
      assert.equal(r.stdout, '');
    });
  }

  it('usage errors exit 2', () => {
    assert.equal(cli().status, 2);
    assert.equal(cli('-f', 'x', '-o', 'toml').status, 2);
  });
});
