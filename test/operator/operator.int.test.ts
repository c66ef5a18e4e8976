// The operator on a real control plane (controller-manager, scheduler, kwok nodes): convergence,
// drift repair, deletion policies, crash safety, API server restarts, leader election, zero idle writes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Cluster, startCluster } from '../support/cluster.ts';
import {
  applyObjects,
  createNamespace,
  example,
  getObject,
  isReady,
  type KObject,
  kubectlOk,
  listObjects,
  waitForCrdsEstablished,
  waitForReady,
} from '../support/kube-helpers.ts';
import { type OperatorProcess, startOperator } from '../support/operator.ts';
import { waitFor } from '../support/processes.ts';

const root = new URL('../../', import.meta.url).pathname;
const managed = 'app.kubernetes.io/managed-by=callfleet-operator';

function voiceAgent(name: string, extra: Record<string, unknown> = {}): KObject {
  const va = example('examples/voiceagent-echo.yaml');
  return { ...va, metadata: { name }, spec: { ...va.spec, ...extra } };
}

function memoryStore(name: string, deletionPolicy: 'Retain' | 'Delete'): KObject {
  const ms = example('examples/memorystore-postgres.yaml');
  return { ...ms, metadata: { name }, spec: { ...ms.spec, deletionPolicy, backup: undefined } };
}

describe('operator on a real cluster', () => {
  let cluster: Cluster;
  let operator: OperatorProcess | undefined;

  before(async () => {
    cluster = await startCluster({ controllers: true, nodes: 3 });
    await kubectlOk(cluster, ['apply', '-f', `${root}crds`]);
    await waitForCrdsEstablished(cluster, 'all', 30_000);
  });
  after(async () => {
    await operator?.stop();
    await cluster?.stop();
  });

  test('a VoiceAgent with a MemoryStore: all children exist, pods Ready on kwok nodes, both CRs Ready', async () => {
    operator = await startOperator(cluster);
    await createNamespace(cluster, 'converge');
    const store = memoryStore('callers', 'Retain');
    await applyObjects(cluster, 'converge', [
      store,
      voiceAgent('agent', { memory: { storeRef: { name: 'callers' } } }),
    ]);
    const ms = await waitForReady(cluster, 'converge', 'memorystore/callers', 90_000);
    assert.equal(ms.status?.observedGeneration, ms.metadata.generation);
    assert.ok(ms.status?.connectionSecret, 'MemoryStore reports its connection Secret');
    const va = await waitForReady(cluster, 'converge', 'voiceagent/agent', 90_000);
    assert.equal(va.status?.observedGeneration, va.metadata.generation);
    assert.match(String(va.status?.webhookUrl), /\/twilio\/voice$/);
    assert.ok(String(va.status?.selector).includes('callfleet.io/voiceagent=agent'));

    const children = await listObjects(
      cluster,
      'converge',
      'deploy,svc,cm,sa,hpa,pdb,networkpolicy',
      'callfleet.io/voiceagent=agent',
    );
    const kinds = children.map((c) => c.kind).sort();
    for (const kind of [
      'ConfigMap',
      'Deployment',
      'HorizontalPodAutoscaler',
      'NetworkPolicy',
      'PodDisruptionBudget',
      'Service',
      'ServiceAccount',
    ]) {
      assert.ok(kinds.includes(kind), `missing ${kind} in ${kinds.join(',')}`);
    }
    for (const child of children) {
      assert.equal(
        child.metadata.ownerReferences?.[0]?.uid,
        va.metadata.uid,
        `${child.kind} is owned by the VoiceAgent`,
      );
      assert.equal(child.metadata.labels?.['app.kubernetes.io/managed-by'], 'callfleet-operator');
      assert.equal(child.metadata.labels?.['app.kubernetes.io/instance'], undefined);
    }
    const pods = await listObjects(cluster, 'converge', 'pods', 'callfleet.io/voiceagent=agent');
    assert.equal(pods.length, va.spec?.replicas ?? 2);
    for (const pod of pods) {
      assert.match(String((pod.spec as { nodeName?: string }).nodeName), /^kwok-node-/);
      assert.ok(pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    }
    assert.ok((await listObjects(cluster, 'converge', 'statefulset', managed)).length === 1);
  });

  test('a deleted or hand-edited child is restored; a spec change rolls the Deployment', async () => {
    const services = await listObjects(cluster, 'converge', 'svc', 'callfleet.io/voiceagent=agent');
    const victim = services[0] as KObject;
    await kubectlOk(cluster, ['delete', '-n', 'converge', 'svc', victim.metadata.name]);
    await waitFor(
      'the deleted Service to come back',
      async () => (await getObject(cluster, 'converge', `svc/${victim.metadata.name}`)) !== null,
      30_000,
      250,
    );

    const hpa = (
      await listObjects(cluster, 'converge', 'hpa', 'callfleet.io/voiceagent=agent')
    )[0] as KObject;
    const original = (hpa.spec as { maxReplicas: number }).maxReplicas;
    await kubectlOk(cluster, [
      'patch',
      '-n',
      'converge',
      'hpa',
      hpa.metadata.name,
      '--type=merge',
      '-p',
      '{"spec":{"maxReplicas":99}}',
    ]);
    await waitFor(
      'the hand-edited HPA to be restored',
      async () =>
        (await getObject(cluster, 'converge', `hpa/${hpa.metadata.name}`))?.spec?.maxReplicas === original,
      30_000,
      250,
    );

    const before = await listObjects(cluster, 'converge', 'rs', 'callfleet.io/voiceagent=agent');
    await kubectlOk(cluster, [
      'patch',
      '-n',
      'converge',
      'va',
      'agent',
      '--type=merge',
      '-p',
      '{"spec":{"calls":{"maxConcurrentPerPod":7}}}',
    ]);
    await waitFor(
      'a new ReplicaSet for the changed config',
      async () => {
        const after = await listObjects(cluster, 'converge', 'rs', 'callfleet.io/voiceagent=agent');
        return after.length > before.length;
      },
      30_000,
      250,
    );
    const va = await waitForReady(cluster, 'converge', 'voiceagent/agent', 60_000);
    assert.equal(va.metadata.generation, 2);
  });

  test('a VoiceAgent whose MemoryStore is missing waits with a clear condition; others are unaffected', async () => {
    await createNamespace(cluster, 'invalid');
    await applyObjects(cluster, 'invalid', [voiceAgent('fine')]);
    await kubectlOk(
      cluster,
      ['create', '-n', 'invalid', '-f', '-'],
      JSON.stringify(voiceAgent('waits', { memory: { storeRef: { name: 'missing' } } })),
    );
    await waitForReady(cluster, 'invalid', 'voiceagent/fine', 60_000);
    await waitFor(
      'the MemoryStoreNotFound condition',
      async () => {
        const va = await getObject(cluster, 'invalid', 'voiceagent/waits');
        const ready = va?.status?.conditions?.find((c) => c.type === 'Ready');
        return (
          ready?.status === 'False' &&
          ready.reason === 'MemoryStoreNotFound' &&
          /missing/.test(ready.message ?? '')
        );
      },
      30_000,
      250,
    );
  });

  test('deleting a VoiceAgent garbage-collects its children', async () => {
    await kubectlOk(cluster, ['delete', '-n', 'invalid', 'va', 'fine', '--wait=true']);
    await waitFor(
      'children of the deleted VoiceAgent to be gone',
      async () => {
        const left = await listObjects(
          cluster,
          'invalid',
          'deploy,svc,cm,hpa,pdb',
          'callfleet.io/voiceagent=fine',
        );
        return left.length === 0;
      },
      60_000,
      250,
    );
  });

  test('MemoryStore deletionPolicy: Retain keeps PVCs and Secrets (no owner), Delete removes them', async () => {
    await createNamespace(cluster, 'policies');
    await applyObjects(cluster, 'policies', [memoryStore('keep', 'Retain'), memoryStore('drop', 'Delete')]);
    await waitForReady(cluster, 'policies', 'memorystore/keep', 90_000);
    await waitForReady(cluster, 'policies', 'memorystore/drop', 90_000);
    await waitFor(
      'PVCs of both stores',
      async () => (await listObjects(cluster, 'policies', 'pvc')).length >= 2,
      60_000,
      250,
    );
    const secretsOf = async (store: string) =>
      await listObjects(cluster, 'policies', 'secret', `callfleet.io/memorystore=${store}`);
    const pvcsOf = async (store: string) =>
      (await listObjects(cluster, 'policies', 'pvc')).filter((p) => p.metadata.name.includes(`-${store}-`));
    assert.ok((await secretsOf('keep')).length > 0);

    await kubectlOk(cluster, [
      'delete',
      '-n',
      'policies',
      'mstore',
      'keep',
      'drop',
      '--wait=true',
      '--timeout=60s',
    ]);
    await waitFor(
      'Delete policy to remove PVCs and Secrets',
      async () => (await secretsOf('drop')).length === 0 && (await pvcsOf('drop')).length === 0,
      60_000,
      500,
    );
    // Give the garbage collector time to act on anything still owned.
    await new Promise((r) => setTimeout(r, 3000));
    const kept = await secretsOf('keep');
    assert.ok(kept.length > 0, 'Retain keeps the Secrets');
    for (const object of [...kept, ...(await pvcsOf('keep'))]) {
      assert.equal(
        object.metadata.ownerReferences?.length ?? 0,
        0,
        `${object.kind} ${object.metadata.name} has no owner left`,
      );
    }
    assert.ok((await pvcsOf('keep')).length > 0, 'Retain keeps the PVCs');
  });

  test('steady state: over 60 s with nothing changing, the operator makes no write call', async () => {
    await operator?.stop();
    operator = await startOperator(cluster, ['--resync=20']);
    await waitForReady(cluster, 'converge', 'voiceagent/agent', 60_000);
    await waitFor(
      'the queue to drain',
      async () => (await operator?.metric('callfleet_operator_queue_depth')) === 0,
      30_000,
    );
    await new Promise((r) => setTimeout(r, 5000));
    const before = await operator.metric('callfleet_operator_api_writes_total');
    const reconcilesBefore = await operator.metric('callfleet_operator_reconciles_total');
    await new Promise((r) => setTimeout(r, 60_000));
    const after = await operator.metric('callfleet_operator_api_writes_total');
    const reconcilesAfter = await operator.metric('callfleet_operator_reconciles_total');
    assert.ok(reconcilesAfter > reconcilesBefore, 'resyncs reconciled everything again during the window');
    assert.equal(after - before, 0, 'no API writes in steady state');
  });

  test('restarting the API server: watches recover and later changes are reconciled', async () => {
    await cluster.restartApiServer();
    await createNamespace(cluster, 'after-restart');
    await applyObjects(cluster, 'after-restart', [voiceAgent('late')]);
    await waitForReady(cluster, 'after-restart', 'voiceagent/late', 60_000);
    const svc = (
      await listObjects(cluster, 'after-restart', 'svc', 'callfleet.io/voiceagent=late')
    )[0] as KObject;
    await kubectlOk(cluster, ['delete', '-n', 'after-restart', 'svc', svc.metadata.name]);
    await waitFor(
      'the Service to come back after the restart',
      async () => (await getObject(cluster, 'after-restart', `svc/${svc.metadata.name}`)) !== null,
      30_000,
      250,
    );
  });

  test('SIGKILL while creating 50 VoiceAgents, then restart: converges without duplicates or orphans', async () => {
    await createNamespace(cluster, 'crash');
    const agents = Array.from({ length: 50 }, (_, i) => voiceAgent(`agent-${i}`, { replicas: 1 }));
    await applyObjects(cluster, 'crash', agents);
    await waitFor(
      'the operator to be mid-way',
      async () => (await listObjects(cluster, 'crash', 'deploy')).length >= 5,
      30_000,
      50,
    );
    await operator?.kill();
    const midway = (await listObjects(cluster, 'crash', 'deploy')).length;
    operator = await startOperator(cluster);
    await waitFor(
      'all 50 VoiceAgents Ready',
      async () => (await listObjects(cluster, 'crash', 'va')).every(isReady),
      180_000,
      1000,
    );
    const deployments = await listObjects(cluster, 'crash', 'deploy', managed);
    const services = await listObjects(cluster, 'crash', 'svc', managed);
    const vas = await listObjects(cluster, 'crash', 'va');
    const uids = new Set(vas.map((v) => v.metadata.uid));
    assert.equal(deployments.length, 50, `one Deployment per VoiceAgent (was ${midway} at the kill)`);
    assert.equal(new Set(deployments.map((d) => d.metadata.ownerReferences?.[0]?.uid)).size, 50);
    for (const child of [...deployments, ...services])
      assert.ok(
        uids.has(child.metadata.ownerReferences?.[0]?.uid ?? ''),
        `${child.metadata.name} has a live owner`,
      );
  });

  test('a spec the zod schema rejects (stored under a laxer CRD) gets Ready=False InvalidSpec with the field path', async () => {
    const crd = JSON.parse(
      await kubectlOk(cluster, ['get', 'crd', 'voiceagents.callfleet.io', '-o', 'json']),
    );
    const schema = crd.spec.versions[0].schema.openAPIV3Schema;
    delete schema['x-kubernetes-validations'];
    schema.properties.spec = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
    delete crd.metadata.resourceVersion;
    await kubectlOk(cluster, ['replace', '-f', '-'], JSON.stringify(crd));
    try {
      await createNamespace(cluster, 'lax');
      const bad = voiceAgent('bad', { calls: { maxConcurrentPerPod: 'lots' } });
      await waitFor(
        'the lax CRD to accept a bad spec',
        async () =>
          (await cluster.kubectl(['apply', '-n', 'lax', '-f', '-'], { input: JSON.stringify(bad) })).code ===
          0,
        30_000,
        500,
      );
      await waitFor(
        'InvalidSpec naming the field',
        async () => {
          const va = await getObject(cluster, 'lax', 'voiceagent/bad');
          const ready = va?.status?.conditions?.find((c) => c.type === 'Ready');
          return (
            ready?.status === 'False' &&
            ready.reason === 'InvalidSpec' &&
            (ready.message ?? '').includes('spec.calls.maxConcurrentPerPod')
          );
        },
        30_000,
        250,
      );
      assert.ok(
        isReady(await getObject(cluster, 'converge', 'voiceagent/agent')),
        'other VoiceAgents stay Ready',
      );
      assert.equal(
        (await listObjects(cluster, 'lax', 'deploy')).length,
        0,
        'nothing is rendered for an invalid spec',
      );
    } finally {
      await kubectlOk(cluster, ['delete', 'namespace', 'lax', '--wait=false']);
      await kubectlOk(cluster, ['apply', '--server-side', '--force-conflicts', '-f', `${root}crds`]);
    }
  });

  test('two operators: exactly one reconciles; killing it hands over within 15 s', async () => {
    await operator?.stop();
    const first = await startOperator(cluster, [], 'operator-a');
    await waitFor(
      'operator-a to lead',
      async () => (await first.metric('callfleet_operator_leader')) === 1,
      30_000,
    );
    const second = await startOperator(cluster, [], 'operator-b');
    try {
      await createNamespace(cluster, 'leader');
      await applyObjects(cluster, 'leader', [voiceAgent('one')]);
      await waitForReady(cluster, 'leader', 'voiceagent/one', 60_000);
      assert.equal(await second.metric('callfleet_operator_leader'), 0);
      assert.equal(
        await second.metric('callfleet_operator_reconciles_total'),
        0,
        'the standby does not reconcile',
      );
      assert.ok((await first.metric('callfleet_operator_reconciles_total')) > 0);

      await first.kill();
      const killedAt = Date.now();
      await waitFor(
        'operator-b to take over',
        async () => (await second.metric('callfleet_operator_leader')) === 1,
        20_000,
        100,
      );
      const handover = Date.now() - killedAt;
      assert.ok(handover <= 15_000, `hand-over took ${handover} ms`);
      await applyObjects(cluster, 'leader', [voiceAgent('two')]);
      await waitForReady(cluster, 'leader', 'voiceagent/two', 60_000);
      console.log(`leader hand-over after SIGKILL: ${(handover / 1000).toFixed(1)} s`);
    } finally {
      await first.stop();
      operator = second;
    }
  });
});
