// The rendered PodDisruptionBudgets judged by the real disruption controller (kube-controller-manager)
// and the real eviction API, over kwok pods (ADR 0029): every idle ready pod but the fleet's last may be
// evicted, however many pods are busy; busy pods never; and the budget is sized from the scale alone,
// so it needs no rewrite when calls start or end. The pods carry the rendered template's labels and get
// the operator's own mark patches, so a call edge is also shown to cost no ReplicaSet status write (ADR 0031).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { parseVoiceAgent } from '../../../cdk8s/api/v1alpha1/index.ts';
import { renderVoiceAgent } from '../../../cdk8s/charts/index.ts';
import { desiredMarks } from '../../../cdk8s/charts/pod-marks.ts';
import { marksPatch } from '../../../operator/tracker/pod-marks.ts';
import { type Cluster, startCluster } from '../../support/cluster.ts';
import {
  applyObjects,
  createNamespace,
  example,
  getObject,
  kubectlOk,
  listObjects,
} from '../../support/kube-helpers.ts';
import { waitFor } from '../../support/processes.ts';

const NS = 'budgets';
const REPLICAS = 4;

interface PdbStatus {
  expectedPods?: number;
  desiredHealthy?: number;
  currentHealthy?: number;
  disruptionsAllowed?: number;
}

describe('idle and busy PodDisruptionBudgets under the disruption controller [integration]', {
  timeout: 300_000,
}, () => {
  let cluster: Cluster;
  let selector: Record<string, string>;
  let names: { idle: string; busy: string };

  before(async () => {
    cluster = await startCluster({ controllers: true, nodes: 2 });
    await createNamespace(cluster, NS);
    const doc = example('examples/voiceagent-echo.yaml');
    const parsed = parseVoiceAgent({ ...doc, metadata: { name: 'echo', namespace: NS } });
    assert.ok(parsed.ok);
    const rendered = renderVoiceAgent(parsed.value, { trackedReplicas: REPLICAS });
    assert.ok(rendered.ok);
    const pdbs = rendered.objects.filter((o) => o.kind === 'PodDisruptionBudget') as (KubernetesObject & {
      spec: { selector: { matchLabels: Record<string, string>; matchExpressions?: unknown[] } };
    })[];
    const idle = pdbs.find((p) => p.spec.selector.matchExpressions);
    const busy = pdbs.find((p) => !p.spec.selector.matchExpressions);
    assert.ok(idle && busy);
    names = { idle: idle.metadata?.name ?? '', busy: busy.metadata?.name ?? '' };
    selector = idle.spec.selector.matchLabels;
    const gateway = rendered.objects.find((o) => o.kind === 'Deployment') as KubernetesObject & {
      spec: { template: { metadata: { labels: Record<string, string> } } };
    };
    // A Deployment with the gateway's selector and its template's labels (the gateway's own pod spec needs
    // Secrets and a ServiceAccount, which neither the disruption nor the ReplicaSet controller looks at).
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'echo' },
      spec: {
        replicas: REPLICAS,
        selector: { matchLabels: selector },
        template: {
          metadata: { labels: gateway.spec.template.metadata.labels },
          spec: { containers: [{ name: 'gateway', image: 'callfleet/voice-gateway:test' }] },
        },
      },
    };
    await applyObjects(cluster, NS, [deployment, idle, busy]);
    await waitFor(`${REPLICAS} ready pods`, async () => (await readyPods()).length === REPLICAS, 120_000);
  });

  after(async () => {
    await cluster?.stop();
  });

  const selectorText = () =>
    Object.entries(selector)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
  async function readyPods(): Promise<string[]> {
    const pods = await listObjects(cluster, NS, 'pods', selectorText());
    return pods
      .filter((p) => {
        const status = (p as { status?: { conditions?: { type: string; status: string }[] } }).status;
        return (
          !p.metadata?.deletionTimestamp &&
          status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
        );
      })
      .map((p) => p.metadata?.name ?? '')
      .sort();
  }
  async function budget(name: string): Promise<PdbStatus> {
    return ((await getObject(cluster, NS, `pdb/${name}`)) as { status?: PdbStatus } | null)?.status ?? {};
  }
  let touches = 0;
  /**
   * Marks the first `count` pods busy and the rest idle with the operator's own patches, then waits for
   * the disruption controller to count them. It recomputes a budget when a pod it selects changes, not
   * the budget a pod leaves, so every pod is touched once more (as the next notice or poll of any idle
   * pod would).
   */
  async function markBusy(pods: string[], count: number): Promise<void> {
    for (const [i, name] of pods.entries()) {
      const pod = await getObject(cluster, NS, `pod/${name}`);
      const patch = pod && marksPatch(pod as V1Pod, desiredMarks(i < count ? 1 : 0, false));
      if (patch)
        await kubectlOk(cluster, [
          'patch',
          '-n',
          NS,
          `pod/${name}`,
          '--type=merge',
          '-p',
          JSON.stringify(patch),
        ]);
    }
    touches++;
    await kubectlOk(cluster, [
      'annotate',
      '-n',
      NS,
      '--overwrite',
      'pods',
      '-l',
      selectorText(),
      `test/touch=${touches}`,
    ]);
    await waitFor(
      `the disruption controller sees ${count} busy`,
      async () =>
        (await budget(names.idle)).currentHealthy === pods.length - count &&
        (count === 0 || (await budget(names.busy)).currentHealthy === count),
      60_000,
    );
  }
  async function replicaSet(): Promise<{ resourceVersion: string; fullyLabeled: number }> {
    const [rs] = await listObjects(cluster, NS, 'replicasets', selectorText());
    assert.ok(rs, 'the ReplicaSet');
    return {
      resourceVersion: (rs.metadata as { resourceVersion?: string }).resourceVersion ?? '',
      fullyLabeled: Number(rs.status?.fullyLabeledReplicas),
    };
  }
  async function evict(pod: string): Promise<{ ok: boolean; message: string }> {
    const body = JSON.stringify({
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name: pod, namespace: NS },
    });
    const result = await cluster.kubectl(
      ['create', '--raw', `/api/v1/namespaces/${NS}/pods/${pod}/eviction`, '-f', '-'],
      { input: body },
    );
    return { ok: result.code === 0, message: result.stderr };
  }

  test('one busy of four: two idle evictions allowed, the busy pod refused; the ReplicaSet is not rewritten', async () => {
    const pods = await readyPods();
    const before = await replicaSet();
    assert.equal(before.fullyLabeled, REPLICAS);
    await markBusy(pods, 1);
    // The busy label is not a template label: the ReplicaSet controller has nothing to recount.
    await new Promise((r) => setTimeout(r, 2000));
    assert.deepEqual(await replicaSet(), before, 'no ReplicaSet status write for a call edge');
    const idle = await budget(names.idle);
    assert.equal(idle.expectedPods, REPLICAS, 'sized from the scale');
    assert.equal(idle.desiredHealthy, 1, 'one idle pod stays');
    assert.equal(idle.disruptionsAllowed, 2, 'every idle pod but one');
    assert.equal((await budget(names.busy)).disruptionsAllowed, 0);
    const busy = await evict(pods[0] as string);
    assert.equal(busy.ok, false);
    assert.match(busy.message, /disruption budget/);
  });

  test("three busy of four: the fleet's last idle pod is kept; all idle again, three may go", async () => {
    const pods = await readyPods();
    await markBusy(pods, 3);
    assert.equal((await budget(names.idle)).disruptionsAllowed, 0);
    const last = await evict(pods[3] as string);
    assert.equal(last.ok, false, 'the last idle pod is not evicted');
    assert.match(last.message, /disruption budget/);

    // Calls end: the same budget, unchanged, now lets all idle pods but one go.
    await markBusy(pods, 0);
    assert.equal((await budget(names.idle)).disruptionsAllowed, REPLICAS - 1);
    const evicted = await evict(pods[3] as string);
    assert.equal(evicted.ok, true, evicted.message);
  });
});
