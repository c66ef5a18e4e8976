// [integration] The operator on a real API server recomputes a MemoryStore's connection budget when
// the VoiceAgents using it change: a VoiceAgent added, its maxReplicas raised, one deleted — each moves
// status.connections and the StatefulSet's max_connections, with no write to the store itself.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Cluster, startCluster } from '../support/cluster.ts';
import {
  applyObjects,
  createNamespace,
  example,
  getObject,
  type KObject,
  kubectlOk,
  waitForCrdsEstablished,
} from '../support/kube-helpers.ts';
import { type OperatorProcess, startOperator } from '../support/operator.ts';
import { waitFor } from '../support/processes.ts';

const root = new URL('../../', import.meta.url).pathname;
const NS = 'budget';

function agent(name: string, maxReplicas: number): KObject {
  const va = example('examples/voiceagent-echo.yaml');
  return {
    ...va,
    metadata: { name },
    spec: {
      ...va.spec,
      autoscaling: { minReplicas: 1, maxReplicas },
      memory: { storeRef: { name: 'callers' } },
    },
  };
}

describe('[integration] the connection budget follows the VoiceAgents', () => {
  let cluster: Cluster;
  let operator: OperatorProcess | undefined;

  before(async () => {
    cluster = await startCluster({ controllers: false });
    await kubectlOk(cluster, ['apply', '-f', `${root}crds`]);
    await waitForCrdsEstablished(cluster, 'all', 30_000);
    await createNamespace(cluster, NS);
    operator = await startOperator(cluster, [`--namespace=${NS}`]);
  });
  after(async () => {
    await operator?.stop();
    await cluster?.stop();
  });

  async function expectBudget(gatewaysAtPeak: number, maxConnections: number) {
    let last: unknown;
    await waitFor(
      `status.connections.gatewaysAtPeak ${gatewaysAtPeak}, max_connections=${maxConnections}`,
      async () => {
        const store = await getObject(cluster, NS, 'memorystore/callers');
        const sts = await getObject(cluster, NS, 'statefulset/callers-postgres');
        const connections = (store?.status as { connections?: Record<string, number> } | undefined)
          ?.connections;
        const args = (sts?.spec as { template: { spec: { containers: { args?: string[] }[] } } } | undefined)
          ?.template.spec.containers[0]?.args;
        last = { connections, args: args?.filter((a) => a.startsWith('max_')) };
        return (
          connections?.gatewaysAtPeak === gatewaysAtPeak &&
          connections.maxConnections === maxConnections &&
          (args?.includes(`max_connections=${maxConnections}`) ?? false)
        );
      },
      60_000,
      250,
    ).catch((error) => {
      throw new Error(`${String(error)}; last: ${JSON.stringify(last)}`);
    });
  }

  test('added, raised, deleted: status.connections and max_connections recomputed each time', async () => {
    const ms = example('examples/memorystore-postgres.yaml');
    await applyObjects(cluster, NS, [{ ...ms, spec: { ...ms.spec, backup: undefined } }]);
    await expectBudget(0, 25); // no VoiceAgent yet: the reserved 10, rounded up
    await applyObjects(cluster, NS, [agent('support', 6)]);
    await expectBudget(7, 100); // 7 × 10 + 10 = 80 → 100
    await applyObjects(cluster, NS, [agent('support', 12)]);
    await expectBudget(13, 150); // 13 × 10 + 10 = 140 → 150
    await applyObjects(cluster, NS, [agent('sales', 4)]);
    await expectBudget(18, 200); // 18 × 10 + 10 = 190 → 200 (the example's cap)
    await applyObjects(cluster, NS, [agent('sales', 5)]);
    // 19 × 10 + 10 = 200 = the cap: still fits at pool 10.
    await expectBudget(19, 200);
    await applyObjects(cluster, NS, [agent('sales', 10)]);
    await expectBudget(24, 200); // 24 × 10 + 10 > 200: pools lowered to ⌊190 / 24⌋ = 7
    const store = await getObject(cluster, NS, 'memorystore/callers');
    const status = store?.status as {
      connections?: Record<string, number>;
      conditions?: { type: string; status: string }[];
    };
    assert.equal(status.connections?.poolPerGateway, 7);
    assert.equal(status.conditions?.find((c) => c.type === 'ConnectionBudget')?.status, 'True');
    await kubectlOk(cluster, ['delete', '-n', NS, 'voiceagent', 'support', '--wait=false']);
    await expectBudget(11, 125); // 11 × 10 + 10 = 120 → 125
  });

  test('cloudnative-pg without CloudNativePG installed: Ready=False saying so, not a failing reconcile', async () => {
    const ms = example('examples/memorystore-cloudnative-pg.yaml');
    await applyObjects(cluster, NS, [ms]);
    let last: unknown;
    await waitFor(
      'the NotInstalled message',
      async () => {
        const store = await getObject(cluster, NS, 'memorystore/callers-ha');
        const conditions = (
          store?.status as { conditions?: { type: string; status: string; message: string }[] }
        )?.conditions;
        last = conditions;
        const ready = conditions?.find((c) => c.type === 'Ready');
        return ready?.status === 'False' && /CloudNativePG is not installed/.test(ready.message);
      },
      60_000,
      250,
    ).catch((error) => {
      throw new Error(`${String(error)}; last: ${JSON.stringify(last)}`);
    });
  });
});
