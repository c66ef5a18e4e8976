// [integration] The real operator reflects a Gateway controller's verdict on the VoiceAgent's HTTPRoute
// (status.parents[].conditions Accepted / ResolvedRefs) in the VoiceAgent's RouteAccepted condition. The test
// plays the Gateway controller: it writes the route's status as one would.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Cluster, startCluster } from '../../support/cluster.ts';
import {
  applyObjects,
  createNamespace,
  example,
  getObject,
  kubectlOk,
  waitForCrdsEstablished,
} from '../../support/kube-helpers.ts';
import { type OperatorProcess, startOperator } from '../../support/operator.ts';
import { waitFor } from '../../support/processes.ts';

const root = new URL('../../../', import.meta.url).pathname;
const NS = 'routes';

describe('[integration] RouteAccepted follows the HTTPRoute status', { timeout: 300_000 }, () => {
  let cluster: Cluster;
  let operator: OperatorProcess | undefined;

  before(async () => {
    const crdDir = execFileSync('bash', [join(root, 'test/cluster/third-party-crds.sh')], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .pop() as string;
    cluster = await startCluster();
    await kubectlOk(cluster, ['apply', '--server-side', '-f', join(root, 'crds')]);
    await kubectlOk(cluster, [
      'apply',
      '--server-side',
      '-f',
      join(crdDir, 'gateway.networking.k8s.io_httproutes.yaml'),
    ]);
    await waitForCrdsEstablished(cluster, 'all', 60_000);
    operator = await startOperator(cluster, ['--call-poll=0']);
  });
  after(async () => {
    await operator?.stop();
    await cluster?.stop();
  });

  const routeCondition = async () => {
    const va = await getObject(cluster, NS, 'voiceagent/agent');
    return (
      va?.status?.conditions as
        | { type: string; status: string; reason: string; message: string }[]
        | undefined
    )?.find((c) => c.type === 'RouteAccepted');
  };
  const reportStatus = async (accepted: string, resolved: string, generation: number) => {
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const condition = (type: string, status: string, reason: string) => ({
      type,
      status,
      reason,
      message: status === 'True' ? '' : `${type} failed in the test's Gateway controller`,
      lastTransitionTime: now,
      observedGeneration: generation,
    });
    const status = {
      parents: [
        {
          parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'external' },
          controllerName: 'example.com/test-gateway-controller',
          conditions: [
            condition('Accepted', accepted, accepted === 'True' ? 'Accepted' : 'NotAllowedByListeners'),
            condition('ResolvedRefs', resolved, resolved === 'True' ? 'ResolvedRefs' : 'BackendNotFound'),
          ],
        },
      ],
    };
    await kubectlOk(cluster, [
      'patch',
      'httproute',
      'agent',
      '-n',
      NS,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status }),
    ]);
  };

  test('Unknown until the Gateway reports, True when accepted, False with the reason when a backend is missing', async () => {
    await createNamespace(cluster, NS);
    const va = example('examples/voiceagent-echo.yaml');
    await applyObjects(cluster, NS, [
      {
        ...va,
        metadata: { name: 'agent' },
        spec: {
          ...va.spec,
          telephony: { ...(va.spec as { telephony: object }).telephony },
          ingress: { host: 'calls.example.com', gatewayRef: { name: 'external' } },
        },
      },
    ]);
    let generation = 0;
    await waitFor(
      'the HTTPRoute',
      async () => {
        const route = await getObject(cluster, NS, 'httproute/agent');
        generation = Number(route?.metadata.generation ?? 0);
        return route !== null;
      },
      60_000,
      250,
    );
    await waitFor(
      'RouteAccepted Unknown',
      async () => (await routeCondition())?.status === 'Unknown',
      60_000,
      250,
    );

    await reportStatus('True', 'True', generation);
    await waitFor('RouteAccepted True', async () => (await routeCondition())?.status === 'True', 60_000, 250);

    await reportStatus('True', 'False', generation);
    await waitFor(
      'RouteAccepted False',
      async () => (await routeCondition())?.status === 'False',
      60_000,
      250,
    );
    const c = await routeCondition();
    assert.equal(c?.reason, 'BackendNotFound');
    assert.match(c?.message ?? '', /external: ResolvedRefs is False/);
  });
});
