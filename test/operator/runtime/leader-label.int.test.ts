// The leader's Pod carries callfleet.io/operator-leader=true, on a real kube-apiserver (ADR 0027): the
// chart's notices Service selects it, so gateways' notices reach the leader and never a follower. Two real
// operator processes, each told its Pod by the downward API's env (bare Pod objects: nothing runs them).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import pino from 'pino';
import { KubeError, KubeRest } from '../../../operator/kube/rest.ts';
import { LEADER_LABEL, LeaderLabel, podLeaderLabel } from '../../../operator/runtime/leader-label.ts';
import { type Cluster, startCluster } from '../../support/cluster.ts';
import { kubectlOk, waitForCrdsEstablished } from '../../support/kube-helpers.ts';
import { type OperatorProcess, startOperator } from '../../support/operator.ts';
import { waitFor } from '../../support/processes.ts';

const root = new URL('../../../', import.meta.url).pathname;
const PODS = '/api/v1/namespaces/default/pods';
const release = (instance: string) => ({
  'app.kubernetes.io/name': 'callfleet',
  'app.kubernetes.io/instance': instance,
});
const log = pino({ level: 'silent' });

describe('the leader pod label', { timeout: 240_000 }, () => {
  let cluster: Cluster;
  let rest: KubeRest;
  const operators: OperatorProcess[] = [];

  const labelOf = async (name: string) =>
    (await rest.get<V1Pod>(`${PODS}/${name}`)).metadata?.labels?.[LEADER_LABEL];
  const createPod = (name: string, labels: Record<string, string>) =>
    rest.create(PODS, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, labels },
      spec: {
        automountServiceAccountToken: false,
        containers: [{ name: 'operator', image: 'ghcr.io/callfleet/callfleet:test' }],
      },
    });
  const start = async (pod: string) => {
    const operator = await startOperator(cluster, ['--call-poll=0'], `operator-${pod}`, {
      env: { POD_NAME: pod, POD_NAMESPACE: 'default' },
    });
    operators.push(operator);
    return operator;
  };
  const labelled = (pod: string, within = 30_000) =>
    waitFor(`pod ${pod} labelled leader`, async () => (await labelOf(pod)) === 'true', within, 200);

  before(async () => {
    cluster = await startCluster({ controllers: false });
    rest = new KubeRest(cluster.kc);
    await kubectlOk(cluster, ['apply', '--server-side', '-f', `${root}crds`]);
    await waitForCrdsEstablished(cluster, 'all', 30_000);
    // Without kube-controller-manager nobody creates the default ServiceAccount Pods are admitted with.
    await rest
      .create('/api/v1/namespaces/default/serviceaccounts', { metadata: { name: 'default' } })
      .catch((error) => {
        if (!(error instanceof KubeError && error.status === 409)) throw error;
      });
    await createPod('a', release('cf'));
    await createPod('b', release('cf'));
    // Another release's leader in the same namespace: never this release's to clear.
    await createPod('other', { ...release('other'), [LEADER_LABEL]: 'true' });
  });
  after(async () => {
    for (const operator of operators) await operator.stop();
    await cluster?.stop();
  });

  test('labelled while leading; a graceful stop removes it and the standby labels its own', async () => {
    const a = await start('a');
    await labelled('a');
    const b = await start('b');
    // The standby is up (it has written its own label off at start) but does not lead.
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(await labelOf('b'), undefined, 'a standby never carries the label');

    await a.stop();
    assert.equal(await labelOf('a'), undefined, 'the stopped leader removed its label before exiting');
    await labelled('b');
    assert.equal(await labelOf('a'), undefined);
    assert.equal(await labelOf('other'), 'true', "another release's leader keeps its label");
    assert.ok(b.process);
  });

  test('a leader killed with SIGKILL keeps its label until the standby takes over and clears it', async () => {
    const [, b] = operators;
    assert.ok(b);
    await start('a'); // the standby now
    await b.kill();
    assert.equal(await labelOf('b'), 'true', 'a killed leader could not remove its own label');
    // The Lease (10 s) expires; a takes it, clears b's label and labels its own pod.
    await labelled('a', 60_000);
    assert.equal(await labelOf('b'), undefined, "the new leader removed the dead leader's label");
    assert.equal(await labelOf('other'), 'true');
  });

  test('a restarted container drops its label at start; a failed label write is retried while leading', async () => {
    // A leader's container restarted (same Pod): the new process is not the leader yet.
    await rest.mergePatch(`${PODS}/b`, { metadata: { labels: { [LEADER_LABEL]: 'true' } } });
    const restarted = podLeaderLabel(rest, log, { POD_NAME: 'b', POD_NAMESPACE: 'default' });
    assert.ok(restarted);
    await restarted.unmark();
    assert.equal(await labelOf('b'), undefined);
    // Outside a pod there is nothing to label.
    assert.equal(podLeaderLabel(rest, log, {}), undefined);
    assert.equal(podLeaderLabel(rest, log, { POD_NAME: 'x' }), undefined, 'no namespace, no label');

    // The Pod is not there at first (a write fails): the label follows once it is.
    const late = new LeaderLabel({
      rest,
      namespace: 'default',
      pod: 'late',
      log,
      retryMs: 100,
      maxRetryMs: 400,
    });
    await late.takeOver(); // leading (its own Pod is missing: nothing to clear either)
    await late.mark();
    await createPod('late', release('cf'));
    await labelled('late', 10_000);
    await late.unmark();
    assert.equal(await labelOf('late'), undefined);
  });
});
