// The generated CRDs on a real API server: they install, accept every example, reject every
// invalid example with the expected field-naming message, and agree with the zod parse.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { crdFor, type JsonSchema } from '../../../cdk8s/api/crd.ts';
import { kinds } from '../../../cdk8s/api/v1alpha1/index.ts';
import { type Cluster, startCluster } from '../../support/cluster.ts';
import { waitForCrdsEstablished } from '../../support/kube-helpers.ts';
import { type Example, examples, invalidExamples, parseExample, repoPath } from './examples.ts';

async function retry<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Object-typed schema nodes with their `kubectl explain` path (`spec.agent`, ...). */
function objectNodes(schema: JsonSchema, path: string[] = []): { path: string[]; node: JsonSchema }[] {
  const out: { path: string[]; node: JsonSchema }[] = [];
  const props = schema.properties as Record<string, JsonSchema> | undefined;
  if (props && Object.keys(props).length) out.push({ path, node: schema });
  for (const [k, v] of Object.entries(props ?? {})) {
    const child = v.type === 'array' ? (v.items as JsonSchema) : v;
    if (k !== 'metadata') out.push(...objectNodes(child, [...path, k]));
  }
  return out;
}

/** Copies of a manifest with one spec field deleted, or one string emptied / number zeroed. */
function variants(obj: Example['object']): { label: string; object: unknown }[] {
  const out: { label: string; object: unknown }[] = [];
  const visit = (node: unknown, path: (string | number)[]) => {
    if (!node || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node)) {
      const p = [...path, Array.isArray(node) ? Number(k) : k];
      const edit = (label: string, change: (parent: Record<string, unknown>, key: string) => void) => {
        const copy = structuredClone(obj) as Record<string, unknown>;
        let parent: Record<string, unknown> = copy;
        for (const seg of p.slice(0, -1)) parent = parent[seg as string] as Record<string, unknown>;
        change(parent, String(p[p.length - 1]));
        out.push({ label: `${label} ${p.join('.')}`, object: copy });
      };
      if (!Array.isArray(node)) edit('without', (parent, key) => delete parent[key]);
      if (typeof v === 'string') edit('empty', (parent, key) => (parent[key] = ''));
      if (typeof v === 'number') edit('zero', (parent, key) => (parent[key] = 0));
      visit(v, p);
    }
  };
  visit((obj as { spec?: unknown }).spec, ['spec']);
  return out;
}

describe('CRDs on the API server [integration]', () => {
  let cluster: Cluster;
  const ns = 'crd-test';

  before(async () => {
    cluster = await startCluster({});
    const applied = await cluster.kubectl(['apply', '-f', repoPath('crds')]);
    assert.equal(applied.code, 0, applied.stderr);
    await waitForCrdsEstablished(
      cluster,
      kinds.map((def) => `${def.plural}.${def.group}`),
    );
    for (const name of [ns, `${ns}-variants`]) {
      const created = await cluster.kubectl(['create', 'namespace', name]);
      assert.equal(created.code, 0, created.stderr);
    }
  });

  after(async () => {
    await cluster?.stop();
  });

  test('kubectl apply -f crds/ installs both CRDs with names, short names and category', async () => {
    const res = await cluster.kubectl(['get', 'crd', '-o', 'json']);
    assert.equal(res.code, 0, res.stderr);
    const items = JSON.parse(res.stdout).items as { metadata: { name: string }; spec: JsonSchema }[];
    for (const def of kinds) {
      const crd = items.find((i) => i.metadata.name === `${def.plural}.${def.group}`);
      assert.ok(crd, `${def.plural} installed`);
      assert.deepEqual((crd.spec.names as JsonSchema).shortNames, def.shortNames);
      assert.deepEqual((crd.spec.names as JsonSchema).categories, ['callfleet']);
    }
    const again = await cluster.kubectl(['apply', '-f', repoPath('crds')]);
    assert.equal(again.code, 0, again.stderr);
  });

  for (const ex of examples()) {
    test(`example ${ex.file} is accepted and defaulted like the zod parse`, async () => {
      const dry = await cluster.kubectl([
        'create',
        '-n',
        ns,
        '--dry-run=server',
        '-o',
        'json',
        '-f',
        ex.path,
      ]);
      assert.equal(dry.code, 0, dry.stderr);
      const server = JSON.parse(dry.stdout);
      const parsed = parseExample(ex.object);
      assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.issues));
      const zodSpec = (parsed.value as { spec: unknown }).spec;
      assert.ok(
        isDeepStrictEqual(server.spec, zodSpec),
        `defaults differ\nserver: ${JSON.stringify(server.spec)}\nzod:    ${JSON.stringify(zodSpec)}`,
      );
      const created = await cluster.kubectl(['create', '-n', ns, '-f', ex.path]);
      assert.equal(created.code, 0, created.stderr);
    });
  }

  for (const ex of invalidExamples()) {
    test(`invalid example ${ex.file} is rejected naming ${ex.expected[0]}`, async () => {
      const dry = await cluster.kubectl(['create', '-n', ns, '--dry-run=server', '-f', ex.path]);
      assert.notEqual(dry.code, 0, `API server accepted ${ex.file}`);
      for (const line of ex.expected) assert.ok(dry.stderr.includes(line), `"${line}" not in: ${dry.stderr}`);
      const parsed = parseExample(ex.object);
      assert.ok(!parsed.ok, 'zod accepted it');
      const issue = parsed.issues.find((i) => i.path === ex.expected[0]);
      assert.ok(issue, `no zod issue at ${ex.expected[0]}: ${JSON.stringify(parsed.issues)}`);
      for (const line of ex.expected.slice(1))
        assert.ok(issue.message.includes(line), `zod: ${issue.message}`);
    });
  }

  test('zod and the API server agree on every example with one field removed or emptied', async () => {
    const cases = examples().flatMap((ex) => variants(ex.object).map((v) => ({ file: ex.file, ...v })));
    assert.ok(cases.length > 100, `only ${cases.length} variants`);
    const disagreements: string[] = [];
    for (let i = 0; i < cases.length; i += 8) {
      await Promise.all(
        cases.slice(i, i + 8).map(async ({ file, label, object }) => {
          const res = await cluster.kubectl(
            ['create', '-n', `${ns}-variants`, '--dry-run=server', '-f', '-'],
            {
              input: JSON.stringify(object),
            },
          );
          const zodOk = parseExample(object as { kind?: string }).ok;
          if ((res.code === 0) !== zodOk) {
            const server = res.code === 0 ? 'accepts' : res.stderr.trim();
            disagreements.push(`${file} ${label}: server ${server}; zod ${zodOk ? 'accepts' : 'rejects'}`);
          }
        }),
      );
    }
    assert.deepEqual(disagreements, []);
  });

  test('kubectl explain prints a description for every field', async () => {
    for (const def of kinds) {
      const schema = (crdFor(def).spec as JsonSchema).versions as {
        schema: { openAPIV3Schema: JsonSchema };
      }[];
      const root = schema[0]?.schema.openAPIV3Schema as JsonSchema;
      for (const { path, node } of objectNodes(root)) {
        const target = [def.plural, ...path].join('.');
        const out = await retry(`explain ${target}`, async () => {
          const res = await cluster.kubectl(['explain', target, `--api-version=${def.group}/${def.version}`]);
          return res.code === 0 ? res.stdout : undefined;
        });
        assert.match(out, /DESCRIPTION:\n\s+\S/, `${target} has a description`);
        for (const field of Object.keys(node.properties as JsonSchema)) {
          const m = new RegExp(`\\n  ${field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\t[^\\n]*\\n(.*)`).exec(
            out,
          );
          assert.ok(m, `${target}.${field} listed by kubectl explain:\n${out}`);
          assert.ok(
            (m[1] ?? '').trim().length > 0,
            `${target}.${field} has a description in kubectl explain`,
          );
        }
      }
    }
  });

  test('kubectl get va shows the printer columns; scale changes .spec.replicas', async () => {
    const name = 'echo';
    const status = {
      status: {
        replicas: 2,
        readyReplicas: 2,
        desiredReplicas: 3,
        busyReplicas: 1,
        drainingReplicas: 0,
        activeCalls: 7,
        webhookUrl: 'https://calls.example.com/twilio/voice',
        selector: 'callfleet.io/voiceagent=echo',
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'AllReplicasReady',
            message: '2/2 gateways ready',
            lastTransitionTime: '2026-01-01T00:00:00Z',
          },
        ],
      },
    };
    const patched = await cluster.kubectl([
      'patch',
      'va',
      name,
      '-n',
      ns,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify(status),
    ]);
    assert.equal(patched.code, 0, patched.stderr);

    const got = await cluster.kubectl(['get', 'va', name, '-n', ns]);
    assert.equal(got.code, 0, got.stderr);
    const [header, row] = got.stdout.trim().split('\n');
    assert.match(
      header ?? '',
      /^NAME\s+DESIRED\s+READY\s+BUSY\s+DRAINING\s+CALLS\s+REASON\s+PROVIDER\s+AGE$/,
    );
    assert.match(row ?? '', /^echo\s+3\s+2\s+1\s+0\s+7\s+AllReplicasReady\s+echo\s+\S+$/);
    const wide = await cluster.kubectl(['get', 'va', name, '-n', ns, '-o', 'wide']);
    assert.match(wide.stdout.split('\n')[0] ?? '', /\s+MESSAGE\s+WEBHOOK$/);
    assert.match(wide.stdout, /2\/2 gateways ready\s+https:\/\/calls\.example\.com\/twilio\/voice/);

    const stores = await cluster.kubectl(['get', 'mstore', '-n', ns]);
    assert.equal(stores.code, 0, stores.stderr);
    assert.match(stores.stdout.split('\n')[0] ?? '', /^NAME\s+READY\s+ENGINE\s+ENDPOINT\s+AGE$/);
    const category = await cluster.kubectl(['get', 'callfleet', '-n', ns, '-o', 'name']);
    assert.equal(category.code, 0, category.stderr);
    assert.match(category.stdout, /voiceagent\.callfleet\.io\/echo/);
    assert.match(category.stdout, /memorystore\.callfleet\.io\/callers/);

    const scaled = await cluster.kubectl(['scale', `va/${name}`, '-n', ns, '--replicas=3']);
    assert.equal(scaled.code, 0, scaled.stderr);
    const replicas = await cluster.kubectl(['get', 'va', name, '-n', ns, '-o', 'jsonpath={.spec.replicas}']);
    assert.equal(replicas.stdout, '3');
    const scale = await cluster.kubectl([
      'get',
      '--raw',
      `/apis/callfleet.io/v1alpha1/namespaces/${ns}/voiceagents/${name}/scale`,
    ]);
    assert.equal(scale.code, 0, scale.stderr);
    const s = JSON.parse(scale.stdout);
    assert.equal(s.spec.replicas, 3);
    assert.equal(s.status.replicas, 2);
    assert.equal(s.status.selector, 'callfleet.io/voiceagent=echo');

    const full = await cluster.kubectl(['get', 'va', name, '-n', ns, '-o', 'json']);
    const parsed = parseExample(JSON.parse(full.stdout));
    assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.issues));
  });
});
