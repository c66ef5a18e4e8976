// A kind a chart renders but the kind table does not list as a child is never watched, so a change or
// deletion of it is never repaired and it is never pruned. Every kind in the golden renders and in the
// charts' apiVersion table must be a child row with the same apiVersion.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { API_VERSIONS } from '../../../cdk8s/charts/children.ts';
import { childResources, collectionPath, resourceFor } from '../../../operator/kube/resources.ts';

const GOLDEN = new URL('../../cdk8s/golden/', import.meta.url);

function renderedKinds(): Set<string> {
  const kinds = new Set<string>();
  for (const file of readdirSync(GOLDEN).filter((f) => f.endsWith('.yaml'))) {
    for (const doc of parseAllDocuments(readFileSync(new URL(file, GOLDEN), 'utf8'))) {
      const o = doc.toJS() as { apiVersion?: string; kind?: string } | null;
      if (o?.apiVersion && o.kind) kinds.add(`${o.apiVersion}/${o.kind}`);
    }
  }
  for (const [kind, apiVersion] of Object.entries(API_VERSIONS)) kinds.add(`${apiVersion}/${kind}`);
  return kinds;
}

test('every kind the charts render is a child row of the kind table, with the same apiVersion', () => {
  const children = new Set(childResources().map((r) => `${r.apiVersion}/${r.kind}`));
  const rendered = renderedKinds();
  assert.ok(rendered.size >= 20, `golden renders read (${rendered.size} kinds)`);
  const missing = [...rendered].filter((k) => !children.has(k));
  assert.deepEqual(missing, [], 'rendered but not registered in operator/kube/resources.ts');
});

test('REST paths: core and grouped, namespaced and cluster-scoped', () => {
  assert.equal(
    collectionPath(resourceFor('apps/v1', 'Deployment'), 'voice'),
    '/apis/apps/v1/namespaces/voice/deployments',
  );
  assert.equal(collectionPath(resourceFor('v1', 'Node'), 'voice'), '/api/v1/nodes');
  assert.throws(() => resourceFor('example.com/v1', 'Widget'), /add it to operator\/kube\/resources\.ts/);
});
