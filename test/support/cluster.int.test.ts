// The local control plane is real: CRDs, schema validation, server-side apply, controllers, GC.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AppsV1Api, CoreV1Api, KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import { profileApiServer } from './apiserver-profile.ts';
import { type Cluster, ipv4Number, splitCidr, startCluster } from './cluster.ts';
import { waitForCrdsEstablished } from './kube-helpers.ts';
import { waitFor } from './processes.ts';

const widgetCrd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.test.callfleet.io' },
  spec: {
    group: 'test.callfleet.io',
    scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: {
                type: 'object',
                required: ['size'],
                properties: { size: { type: 'integer', minimum: 1, maximum: 10 }, color: { type: 'string' } },
              },
            },
          },
        },
      },
    ],
  },
};

describe('control plane: API server with a CRD', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster();
  });
  after(() => cluster?.stop());

  test('reports the pinned Kubernetes version', async () => {
    const result = await cluster.kubectl(['version', '-o', 'json']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(JSON.parse(result.stdout).serverVersion.gitVersion, /^v1\.\d+\.\d+$/);
  });

  test('installs a CRD; creates, reads, server-side-applies and deletes a custom object; rejects an invalid one', async () => {
    const applied = await cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(widgetCrd) });
    assert.equal(applied.code, 0, applied.stderr);
    await waitForCrdsEstablished(cluster, ['widgets.test.callfleet.io'], 30_000);

    const objects = KubernetesObjectApi.makeApiClient(cluster.kc);
    const widget = {
      apiVersion: 'test.callfleet.io/v1',
      kind: 'Widget',
      metadata: { name: 'w1', namespace: 'default' },
    };
    await objects.create({ ...widget, spec: { size: 3 } });
    const read = (await objects.read(widget)) as typeof widget & { spec: { size: number; color?: string } };
    assert.equal(read.spec.size, 3);

    const ssa = (await objects.patch(
      { ...widget, spec: { size: 4, color: 'blue' } },
      undefined,
      undefined,
      'callfleet-test',
      true,
      PatchStrategy.ServerSideApply,
    )) as typeof read & { metadata: { managedFields?: { manager?: string; operation?: string }[] } };
    assert.deepEqual(ssa.spec, { size: 4, color: 'blue' });
    assert.ok(
      ssa.metadata.managedFields?.some((f) => f.manager === 'callfleet-test' && f.operation === 'Apply'),
    );

    await assert.rejects(
      objects.create({ ...widget, metadata: { name: 'w2', namespace: 'default' }, spec: { size: 99 } }),
      (error: Error) => /spec\.size/.test(String((error as { body?: unknown }).body ?? error.message)),
    );

    await objects.delete(widget);
    await assert.rejects(objects.read(widget), (error: { code?: number }) => error.code === 404);
  });

  test("serves no profile and keeps Go's collector default unless asked", async () => {
    const file = join(tmpdir(), `callfleet-never-written-${process.pid}.pprof`);
    await assert.rejects(
      profileApiServer(cluster, 1, file),
      /^Error: API server profile: kubectl exited with 1: .*NotFound/,
    );
    assert.equal(existsSync(file), false);
    assert.doesNotMatch(apiserverEnviron(cluster), /(^|\0)GOGC=/);
  });

  test('waiting for a CRD that never becomes Established fails in time, naming it', async () => {
    const started = Date.now();
    await assert.rejects(
      waitForCrdsEstablished(cluster, ['widgets.test.callfleet.io', 'gadgets.test.callfleet.io'], 1_000),
      /not Established: gadgets\.test\.callfleet\.io$/,
    );
    assert.ok(Date.now() - started < 5_000);
  });
});

describe('control plane: controllers, scheduler and kwok nodes', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ controllers: true, nodes: 2 });
  });
  after(() => cluster?.stop());

  test("a Deployment's pods become Ready on kwok nodes; its ReplicaSet is garbage-collected with it", async () => {
    const apps = cluster.kc.makeApiClient(AppsV1Api);
    const core = cluster.kc.makeApiClient(CoreV1Api);
    const labels = { app: 'hello' };
    await apps.createNamespacedDeployment({
      namespace: 'default',
      body: {
        metadata: { name: 'hello' },
        spec: {
          replicas: 2,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: { containers: [{ name: 'hello', image: 'example.invalid/hello:1' }] },
          },
        },
      },
    });
    await waitFor(
      'two Ready pods on kwok nodes',
      async () => {
        const pods = await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=hello' });
        const ready = pods.items.filter(
          (pod) =>
            pod.spec?.nodeName?.startsWith('kwok-node-') &&
            pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        );
        return ready.length === 2;
      },
      60_000,
      250,
    );
    const replicaSets = await apps.listNamespacedReplicaSet({
      namespace: 'default',
      labelSelector: 'app=hello',
    });
    assert.equal(replicaSets.items.length, 1);

    await apps.deleteNamespacedDeployment({ name: 'hello', namespace: 'default' });
    await waitFor(
      'the ReplicaSet to be garbage-collected',
      async () =>
        (await apps.listNamespacedReplicaSet({ namespace: 'default', labelSelector: 'app=hello' })).items
          .length === 0,
      60_000,
      250,
    );
  });
});

const POD_CIDR = '127.231.0.1/16';

describe('control plane: one kwok per node (kwokPerNode)', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({
      controllers: true,
      nodes: 2,
      podsPerNode: 8,
      kwokPerNode: true,
      podCidr: POD_CIDR,
    });
  });
  after(() => cluster?.stop());

  test("each node's kwok runs the pods scheduled there, with addresses from its own slice", async () => {
    assert.deepEqual([...cluster.processes.keys()].filter((name) => name.startsWith('kwok')).sort(), [
      'kwok-0',
      'kwok-1',
    ]);
    const apps = cluster.kc.makeApiClient(AppsV1Api);
    const core = cluster.kc.makeApiClient(CoreV1Api);
    const labels = { app: 'spread' };
    await apps.createNamespacedDeployment({
      namespace: 'default',
      body: {
        metadata: { name: 'spread' },
        spec: {
          replicas: 6,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              containers: [{ name: 'spread', image: 'example.invalid/spread:1' }],
              topologySpreadConstraints: [
                {
                  maxSkew: 1,
                  topologyKey: 'kubernetes.io/hostname',
                  whenUnsatisfiable: 'DoNotSchedule',
                  labelSelector: { matchLabels: labels },
                },
              ],
            },
          },
        },
      },
    });
    let ready: { node: string; ip: string }[] = [];
    await waitFor(
      'six Ready pods over both nodes',
      async () => {
        const pods = await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=spread' });
        ready = pods.items
          .filter((pod) => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
          .map((pod) => ({ node: pod.spec?.nodeName ?? '', ip: pod.status?.podIP ?? '' }));
        return ready.length === 6;
      },
      60_000,
      250,
    );
    // Node i's pods take addresses from its slice of POD_CIDR (/28s: 16 addresses each).
    const slices = splitCidr(POD_CIDR, 2, 8).map((cidr) => ipv4Number(cidr.split('/')[0] as string) & ~15);
    for (const { node, ip } of ready) {
      const slice = slices[Number(node.replace('kwok-node-', ''))];
      assert.equal(ipv4Number(ip) & ~15, slice, `${node}: ${ip}`);
    }
    assert.equal(new Set(ready.map((p) => p.ip)).size, 6, 'no address given twice');
    assert.equal(new Set(ready.map((p) => p.node)).size, 2);
  });
});

describe('control plane: kube-apiserver tuned for benchmarks (apiserverGogc, apiserverProfiling)', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ apiserverGogc: 200, apiserverProfiling: true });
  });
  after(() => cluster?.stop());

  test('runs with the GOGC asked for and hands out a CPU profile', async () => {
    assert.match(apiserverEnviron(cluster), /(^|\0)GOGC=200\0/);
    const dir = mkdtempSync(join(tmpdir(), 'callfleet-pprof-'));
    try {
      const file = join(dir, 'apiserver.pprof');
      await profileApiServer(cluster, 1, file);
      const profile = readFileSync(file);
      // pprof's format: a gzip-compressed protocol buffer.
      assert.deepEqual([...profile.subarray(0, 2)], [0x1f, 0x8b]);
      assert.ok(profile.length > 200, `${profile.length} bytes`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The environment kube-apiserver was started with (NUL-separated). */
function apiserverEnviron(cluster: Cluster): string {
  const pid = cluster.processes.get('kube-apiserver')?.child.pid;
  assert.ok(pid);
  return readFileSync(`/proc/${pid}/environ`, 'latin1');
}
