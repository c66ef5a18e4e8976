// The CRD generator: deterministic, structural, described, and in sync with crds/.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { crdFor, type JsonSchema, openApiSchema, renderCrds, toStructural } from '../../../cdk8s/api/crd.ts';
import { kinds } from '../../../cdk8s/api/v1alpha1/index.ts';
import { repoPath } from './examples.ts';

const ALLOWED = new Set([
  'description',
  'type',
  'format',
  'enum',
  'default',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'minItems',
  'maxItems',
  'required',
  'items',
  'properties',
  'additionalProperties',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-validations',
]);

type Visit = (node: JsonSchema, path: string) => void;
function walk(node: JsonSchema, visit: Visit, path = ''): void {
  visit(node, path);
  for (const [k, v] of Object.entries((node.properties as Record<string, JsonSchema>) ?? {})) {
    walk(v, visit, `${path}.${k}`);
  }
  if (node.items) walk(node.items as JsonSchema, visit, `${path}[*]`);
  if (node.additionalProperties && typeof node.additionalProperties === 'object') {
    walk(node.additionalProperties as JsonSchema, visit, `${path}.*`);
  }
}

function at(root: JsonSchema, path: string): JsonSchema {
  let node = root;
  for (const seg of path.split('.').filter(Boolean)) {
    node = (node.properties as Record<string, JsonSchema>)[seg] as JsonSchema;
    assert.ok(node, `no ${path}`);
  }
  return node;
}

for (const def of kinds) {
  describe(`CRD ${def.kind}`, () => {
    const schema = openApiSchema(def);

    test('is deterministic', () => {
      assert.deepEqual(crdFor(def), crdFor(def));
      assert.equal(
        renderCrds().get(`${def.group}_${def.plural}.yaml`),
        renderCrds().get(`${def.group}_${def.plural}.yaml`),
      );
    });

    test('is a structural schema the API server accepts', () => {
      walk(schema, (node, path) => {
        assert.equal(typeof node.type, 'string', `${path} has a type`);
        for (const key of Object.keys(node)) assert.ok(ALLOWED.has(key), `${path}: unexpected "${key}"`);
        if (node.properties)
          assert.ok(!('additionalProperties' in node), `${path}: properties + additionalProperties`);
        if (node.type === 'integer') {
          assert.notEqual(node.minimum, -Number.MAX_SAFE_INTEGER, `${path}: 2^53 bound left in`);
          assert.notEqual(node.maximum, Number.MAX_SAFE_INTEGER, `${path}: 2^53 bound left in`);
        }
        if (node['x-kubernetes-preserve-unknown-fields']) assert.equal(node.type, 'object');
      });
    });

    test('every field has a description (kubectl explain)', () => {
      walk(schema, (node, path) => {
        // metadata is the API server's ObjectMeta (it forbids describing it here).
        if (path.startsWith('.metadata') || path.endsWith('.*') || path.endsWith('[*]')) return;
        assert.ok(
          typeof node.description === 'string' && node.description.length > 3,
          `${path || '<root>'} has no description`,
        );
      });
    });

    test('CEL rules that iterate lists are bounded (maxItems) for the cost estimator', () => {
      walk(schema, (node, path) => {
        for (const r of (node['x-kubernetes-validations'] as { rule: string }[]) ?? []) {
          const iterated = /self\.(\w+)\.(all|exists|map|filter)\(/.exec(r.rule);
          if (!iterated) continue;
          const list = at(node, iterated[1] as string);
          assert.equal(typeof list.maxItems, 'number', `${path}.${iterated[1]} needs maxItems`);
        }
      });
    });

    test('credentials are only secretKeyRefs', () => {
      walk(schema, (_node, path) => {
        const name = path.split('.').pop() ?? '';
        if (!/key|token|secret|password|sid/i.test(name) || /SecretRef$/.test(name)) return;
        // imagePullSecrets names Secrets (core/v1 LocalObjectReference); it holds no credential itself.
        if (
          ['key', 'secretName', 'connectionSecret', 'imagePullSecrets', 'imagePullSecrets[*]'].includes(name)
        )
          return;
        assert.fail(`${path}: credential-like field that is not a *SecretRef`);
      });
      walk(schema, (node, path) => {
        if (!path.endsWith('SecretRef')) return;
        assert.deepEqual(Object.keys(node.properties as JsonSchema), ['name', 'key'], path);
        assert.deepEqual(node.required, ['name', 'key'], path);
      });
    });

    test('status has a subresource and conditions are a list-map keyed by type', () => {
      const crd = crdFor(def) as { spec: { versions: JsonSchema[] } };
      const version = crd.spec.versions[0] as JsonSchema;
      assert.deepEqual((version.subresources as JsonSchema).status, {});
      const conditions = at(schema, 'status.conditions');
      assert.equal(conditions['x-kubernetes-list-type'], 'map');
      assert.deepEqual(conditions['x-kubernetes-list-map-keys'], ['type']);
      const item = conditions.items as JsonSchema;
      assert.deepEqual(Object.keys(item.properties as JsonSchema).sort(), [
        'lastTransitionTime',
        'message',
        'observedGeneration',
        'reason',
        'status',
        'type',
      ]);
      assert.equal(at(item, 'lastTransitionTime').format, 'date-time');
    });

    test('object defaults carry their fields’ defaults (the API server validates defaults as written)', () => {
      walk(schema, (node, path) => {
        if (node.type !== 'object' || node.default === undefined || !node.properties) return;
        for (const [k, child] of Object.entries(node.properties as Record<string, JsonSchema>)) {
          if (child.default !== undefined) {
            assert.ok(k in (node.default as JsonSchema), `${path}.default lacks ${k}`);
          }
        }
      });
    });
  });
}

describe('CRD facts', () => {
  test('VoiceAgent: scale subresource, printer columns, short name, category', () => {
    const va = crdFor(kinds.find((k) => k.kind === 'VoiceAgent') as (typeof kinds)[number]) as {
      spec: { names: JsonSchema; versions: JsonSchema[] };
    };
    assert.deepEqual(va.spec.names.shortNames, ['va']);
    assert.deepEqual(va.spec.names.categories, ['callfleet']);
    const v = va.spec.versions[0] as JsonSchema;
    assert.deepEqual((v.subresources as JsonSchema).scale, {
      specReplicasPath: '.spec.replicas',
      statusReplicasPath: '.status.replicas',
      labelSelectorPath: '.status.selector',
    });
    const columns = v.additionalPrinterColumns as { name: string; priority?: number }[];
    assert.deepEqual(
      columns.filter((c) => !c.priority).map((c) => c.name),
      ['Desired', 'Ready', 'Busy', 'Draining', 'Calls', 'Reason', 'Provider', 'Age'],
    );
    assert.deepEqual(
      columns.filter((c) => c.priority === 1).map((c) => c.name),
      ['Message', 'Webhook'],
    );
  });

  test('MemoryStore: printer columns, short name, category, no scale', () => {
    const ms = crdFor(kinds.find((k) => k.kind === 'MemoryStore') as (typeof kinds)[number]) as {
      spec: { names: JsonSchema; versions: JsonSchema[] };
    };
    assert.deepEqual(ms.spec.names.shortNames, ['mstore']);
    assert.deepEqual(ms.spec.names.categories, ['callfleet']);
    const v = ms.spec.versions[0] as JsonSchema;
    assert.equal((v.subresources as JsonSchema).scale, undefined);
    const cols = (v.additionalPrinterColumns as { name: string }[]).map((c) => c.name);
    assert.deepEqual(cols, ['Ready', 'Engine', 'Endpoint', 'Age']);
  });

  test('crds/ is up to date with the zod schemas (run `make manifests`)', () => {
    for (const [name, text] of renderCrds()) {
      assert.equal(readFileSync(repoPath('crds', name), 'utf8'), text, `crds/${name} is stale`);
    }
  });

  test('toStructural rejects what k8s rejects', () => {
    const json = z.toJSONSchema(z.union([z.string(), z.int()]), { target: 'openapi-3.0' }) as JsonSchema;
    assert.throws(() => toStructural(json), /anyOf/);
    assert.throws(() => toStructural({ description: 'x' }), /needs a type/);
    const stripped = toStructural({ type: 'integer', minimum: -Number.MAX_SAFE_INTEGER, maximum: 5 });
    assert.deepEqual(stripped, { type: 'integer', maximum: 5 });
  });
});
