// Typed children (ADR 0026): every plain child goes through child(kind), which writes the kind's one
// apiVersion and the body exactly as given; the compiler checks each body against the kind's model.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { App, Chart } from 'cdk8s';
import { API_VERSIONS, type ChildKind, child } from '../../../cdk8s/charts/children.ts';
import { allExamples, ROOT, render } from './fixtures.ts';

function typeChecks(chart: Chart): void {
  const metadata = { name: 'x', labels: {} };
  // @ts-expect-error a misspelt field of a client-node model
  child(chart, 'a', 'PodDisruptionBudget', { metadata, spec: { maxUnavailabe: 1 } });
  // @ts-expect-error a number where the model wants a string (ConfigMap data values)
  child(chart, 'b', 'ConfigMap', { metadata, data: { 'gateway.json': 1 } });
  // @ts-expect-error a misspelt field of a local CRD model
  child(chart, 'c', 'ServiceMonitor', { metadata, spec: { selector: {}, endpoints: [{ prt: 'internal' }] } });
  // @ts-expect-error client-node's `_from` is not the wire name: the NetworkPolicy body takes `from`
  child(chart, 'd', 'NetworkPolicy', { metadata, spec: { podSelector: {}, ingress: [{ _from: [] }] } });
}

describe('child()', () => {
  test('writes the kind, its apiVersion and the body as given', () => {
    const chart = new Chart(new App(), 'c', { disableResourceNameHashes: true });
    const spec = { maxUnavailable: 0, selector: { matchLabels: { a: 'b' } } };
    child(chart, 'pdb', 'PodDisruptionBudget', { metadata: { name: 'p', labels: { l: 'v' } }, spec });
    assert.deepEqual(chart.toJson(), [
      {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name: 'p', labels: { l: 'v' } },
        spec,
      },
    ]);
    assert.equal(typeof typeChecks, 'function');
  });

  test('every rendered object of a kind in the table carries that apiVersion', () => {
    const seen = new Set<string>();
    for (const example of allExamples()) {
      for (const o of render(example)) {
        const expected = API_VERSIONS[o.kind as ChildKind];
        if (!expected) continue;
        seen.add(o.kind ?? '');
        assert.equal(o.apiVersion, expected, `${example.name}: ${o.kind} ${o.metadata?.name}`);
      }
    }
    assert.ok(seen.size >= 12, `only ${[...seen].join(', ')} rendered`);
  });

  test('no chart builds a plain ApiObject: every child is typed', () => {
    const dir = join(ROOT, 'cdk8s/charts');
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    const plain = files.filter(
      (f) => f !== 'children.ts' && readFileSync(join(dir, f), 'utf8').includes('new ApiObject('),
    );
    assert.deepEqual(plain, [], 'use child(scope, id, kind, body) from cdk8s/charts/children.ts');
  });
});
