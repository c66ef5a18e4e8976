// [integration] Every rendered object of every example (and ingress variant) passes server-side dry
// run on a real kube-apiserver, third-party kinds included (CRDs from their Go modules, see
// test/cluster/third-party-crds.sh).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { toYaml } from '../../../operator/cli/render.ts';
import { type Cluster, startCluster } from '../../support/cluster.ts';
import { waitForCrdsEstablished } from '../../support/kube-helpers.ts';
import { allExamples, ROOT, render } from './fixtures.ts';

describe('[integration] rendered objects pass server-side dry run', () => {
  let cluster: Cluster;

  before(async () => {
    const crdDir = execFileSync('bash', [join(ROOT, 'test/cluster/third-party-crds.sh')], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .pop() as string;
    cluster = await startCluster();
    const files = [
      ...readdirSync(join(ROOT, 'crds'))
        .filter((f) => f.endsWith('.yaml'))
        .map((f) => join(ROOT, 'crds', f)),
      ...readdirSync(crdDir)
        .filter((f) => f.endsWith('.yaml'))
        .map((f) => join(crdDir, f)),
    ];
    for (const file of files) {
      const r = await cluster.kubectl(['apply', '--server-side', '-f', file]);
      assert.equal(r.code, 0, `installing ${file}: ${r.stderr}`);
    }
    await waitForCrdsEstablished(cluster, 'all');
    const ns = await cluster.kubectl(['create', 'namespace', 'voice']);
    assert.equal(ns.code, 0, ns.stderr);
  });

  after(async () => {
    await cluster?.stop();
  });

  // A CallCampaign renders nothing (crds.int.test.ts validates the campaign itself).
  for (const example of allExamples().filter((e) => !e.name.startsWith('callcampaign'))) {
    it(`${example.name}: every object is accepted`, async () => {
      const objects = render(example);
      assert.ok(objects.length > 0);
      const r = await cluster.kubectl(
        ['apply', '--server-side', '--dry-run=server', '--field-manager=callfleet-operator', '-f', '-'],
        { input: toYaml(objects) },
      );
      assert.equal(r.code, 0, `${example.name}: ${r.stderr}\n${r.stdout}`);
      const accepted = r.stdout.trim().split('\n').filter(Boolean);
      assert.equal(accepted.length, objects.length, r.stdout);
    });
  }
});
