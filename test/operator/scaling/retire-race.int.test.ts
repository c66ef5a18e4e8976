// The race between a first call and a scale-down (issue 24, ADR 0021), on a real control plane with
// kwok pods whose gateways are simulated with the gateway's own link code: at the moment the operator
// has chosen which idle pod to remove, a call lands on exactly that pod. The pod refuses to retire, so
// it is not removed (its call is not cut); another idle pod is removed instead; its busy mark comes
// from its answer, not from a poll.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import pino from 'pino';
import { Controller } from '../../../operator/controller.ts';
import { createOperatorMetrics } from '../../../operator/metrics.ts';
import { GatewayFleet } from '../../simulator/gateway-fleet.ts';
import { type Cluster, startCluster } from '../../support/cluster.ts';
import {
  applyObjects,
  createNamespace,
  example,
  kubectlOk,
  waitForCrdsEstablished,
  waitForReady,
} from '../../support/kube-helpers.ts';
import { waitFor } from '../../support/processes.ts';

const root = new URL('../../../', import.meta.url).pathname;
const NS = 'race';

describe('first call vs scale-down [integration]', { timeout: 300_000 }, () => {
  let cluster: Cluster;
  let controller: Controller | undefined;
  let fleet: GatewayFleet | undefined;
  const chosen: string[][] = [];
  let placeCallOn: ((pods: V1Pod[]) => void) | undefined;

  before(async () => {
    cluster = await startCluster({ controllers: true, nodes: 2 });
    await kubectlOk(cluster, ['apply', '-f', `${root}crds`]);
    await waitForCrdsEstablished(cluster, 'all', 30_000);
    await createNamespace(cluster, NS);
    controller = new Controller({
      kc: cluster.kc,
      log: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
      metrics: createOperatorMetrics(),
      identity: 'race-test',
      namespaces: [NS],
      // The poll sees the pods idle before the scale-down; the call's busy mark comes from the retire answer.
      callPollIntervalMs: 2000,
      link: {
        noticeAddr: '127.0.0.1:0',
        onVictimsChosen: (pods) => {
          chosen.push(pods.map((p) => p.metadata?.name ?? ''));
          placeCallOn?.(pods);
          placeCallOn = undefined;
        },
      },
    });
    await controller.start();
    // No notices from these gateways: the race is closed by the retire answer alone, whatever the
    // notices' timing (with them the busy mark usually arrives first anyway).
    fleet = new GatewayFleet({ kc: cluster.kc, namespaces: [NS] });
    await fleet.start();
  });

  after(async () => {
    await fleet?.stop();
    await controller?.stop();
    await cluster?.stop();
  });

  test('a call placed on the idle pod the operator chose to remove keeps its pod; another idle pod goes', async () => {
    const va = example('examples/voiceagent-echo.yaml');
    await applyObjects(cluster, NS, [
      {
        ...va,
        metadata: { name: 'echo' },
        spec: { ...va.spec, replicas: 3, autoscaling: { minReplicas: 1, maxReplicas: 5 } },
      },
    ]);
    await waitForReady(cluster, NS, 'voiceagent/echo', 120_000);
    await waitFor('3 simulated gateways serving', async () => fleet?.serving().length === 3, 60_000);
    // Let the tracker see every pod idle (fresh) before the scale-down.
    await new Promise((r) => setTimeout(r, 3000));

    let calledPod = '';
    placeCallOn = (pods) => {
      const victim = pods[0];
      const sim = fleet?.pods.get(`${victim?.metadata?.namespace}/${victim?.metadata?.name}`);
      assert.ok(sim, 'the chosen pod is simulated');
      calledPod = sim.name;
      fleet?.startCall(sim, 'CA-race-0001');
    };
    await kubectlOk(cluster, [
      'patch',
      '-n',
      NS,
      'va',
      'echo',
      '--type=merge',
      '-p',
      '{"spec":{"replicas":2}}',
    ]);

    await waitFor(
      'the fleet down to 2 pods',
      async () => {
        const d = JSON.parse(
          await kubectlOk(cluster, [
            'get',
            '-n',
            NS,
            'deploy',
            '-l',
            'callfleet.io/voiceagent=echo',
            '-o',
            'json',
          ]),
        ) as { items: V1Deployment[] };
        const pods = JSON.parse(
          await kubectlOk(cluster, [
            'get',
            '-n',
            NS,
            'pods',
            '-l',
            'callfleet.io/voiceagent=echo',
            '-o',
            'json',
          ]),
        ) as { items: V1Pod[] };
        return (
          d.items[0]?.spec?.replicas === 2 &&
          pods.items.filter((p) => !p.metadata?.deletionTimestamp).length === 2 &&
          pods.items.length === 2
        );
      },
      120_000,
      500,
    );
    assert.ok(calledPod, `a call was placed at the moment of choice (chosen: ${JSON.stringify(chosen)})`);
    const pods = JSON.parse(
      await kubectlOk(cluster, ['get', '-n', NS, 'pods', '-l', 'callfleet.io/voiceagent=echo', '-o', 'json']),
    ) as { items: V1Pod[] };
    const names = pods.items.map((p) => p.metadata?.name);
    assert.ok(
      names.includes(calledPod),
      `the pod that took the call (${calledPod}) is still there: ${names.join(', ')}`,
    );
    const called = pods.items.find((p) => p.metadata?.name === calledPod);
    assert.equal(called?.metadata?.labels?.['callfleet.io/busy'], 'true', 'and is marked busy');
    assert.equal(called?.metadata?.annotations?.['controller.kubernetes.io/pod-deletion-cost'], '1');
    const simulated = fleet?.pods.get(`${NS}/${calledPod}`);
    assert.equal(simulated?.live, 1, 'its call is still live');
    const cut = [...(fleet?.pods.values() ?? [])].reduce((n, p) => n + p.cut, 0);
    assert.equal(cut, 0, 'no pod with a live call was removed');
    assert.ok(chosen.length >= 2, `a second choice removed another idle pod: ${JSON.stringify(chosen)}`);
    assert.ok(!chosen.slice(1).flat().includes(calledPod), 'the busy pod is never chosen again');
  });
});
