// The MemoryStore reconciler on the in-memory API door: each engine says what it is in its status, the
// connection budget is computed from the VoiceAgents that use the store (max_connections rendered,
// status.connections, a ConnectionBudget condition), recomputed when they change, and the VoiceAgents'
// gateways get the pool size and the CA from it.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { KubernetesObject, V1Deployment, V1Secret, V1StatefulSet } from '@kubernetes/client-node';
import { reconcileMemoryStore } from '../../../operator/reconcile/memorystore.ts';
import type { WithStatus } from '../../../operator/reconcile/status.ts';
import { reconcileVoiceAgent } from '../../../operator/reconcile/voiceagent.ts';
import { example, type Harness, harness, log, secret } from './harness.ts';

type Status = {
  connections?: Record<string, number>;
  caBundle?: { kind: string; name: string; key: string };
  connectionSecret?: { name: string; key: string };
  conditions?: { type: string; status: string; reason: string; message: string }[];
};

function agent(name: string, maxReplicas: number, store = 'callers') {
  const va = example('voiceagent-echo.yaml');
  return {
    ...va,
    metadata: { ...va.metadata, name, uid: `uid-${name}` },
    spec: {
      ...va.spec,
      autoscaling: { minReplicas: 1, maxReplicas },
      memory: { storeRef: { name: store } },
    },
  };
}

describe('reconcileMemoryStore', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });
  afterEach(async () => {
    await h.stop();
  });

  async function reconcile(name = 'callers') {
    await h.settle();
    await reconcileMemoryStore(h.ctx, `team/${name}`, log);
    await h.settle();
  }
  const status = (name = 'callers') =>
    ((h.kube.find('memorystores', 'team', name) as WithStatus | undefined)?.status ?? {}) as Status;
  const secretData = (name: string): Record<string, string> => {
    const s = h.kube.find('secrets', 'team', name) as V1Secret | undefined;
    return Object.fromEntries(
      Object.entries(s?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
    );
  };
  const cond = (type: string, name = 'callers') => status(name).conditions?.find((c) => c.type === type);
  const args = () =>
    (h.kube.find('statefulsets', 'team', 'callers-postgres') as V1StatefulSet | undefined)?.spec?.template
      ?.spec?.containers?.[0]?.args ?? [];

  test('postgres: max_connections and status.connections from the VoiceAgents using the store; the status says what the engine is', async () => {
    h.kube.put(example('memorystore-postgres.yaml'));
    h.kube.put(agent('support', 6));
    h.kube.put(agent('sales', 4));
    h.kube.put(agent('elsewhere', 50, 'other-store'));
    await reconcile();
    // (6+1 + 4+1) × 10 + 10 = 130 → 150; the example caps at 200.
    assert.ok(args().includes('max_connections=150'), args().join(' '));
    assert.ok(args().includes('ssl=on'));
    assert.deepEqual(status().connections, {
      maxConnections: 150,
      poolPerGateway: 10,
      gatewaysAtPeak: 12,
      needed: 130,
      voiceAgents: 2,
    });
    assert.equal(cond('ConnectionBudget')?.status, 'True');
    assert.equal(cond('HighlyAvailable')?.status, 'False');
    assert.equal(cond('HighlyAvailable')?.reason, 'SingleInstance');
    assert.match(cond('HighlyAvailable')?.message ?? '', /for development and small fleets/);
    assert.deepEqual(status().caBundle, { kind: 'Secret', name: 'callers-postgres-tls', key: 'ca.crt' });
    // The generated TLS Secret: a CA and a server certificate for the Service name the URL dials.
    const data = secretData('callers-postgres-tls');
    const server = new X509Certificate(data['tls.crt'] ?? '');
    assert.ok(server.verify(new X509Certificate(data['ca.crt'] ?? '').publicKey));
    assert.ok(server.checkHost('callers-postgres.team.svc'));
    const url = secretData('callers-connection').url ?? '';
    assert.match(url, /@callers-postgres\.team\.svc:5432\/callfleet\?sslmode=verify-full$/);
  });

  test('recomputed when a VoiceAgent changes: a higher maxReplicas raises max_connections', async () => {
    h.kube.put(example('memorystore-postgres.yaml'));
    h.kube.put(agent('support', 6));
    await reconcile();
    assert.ok(args().includes('max_connections=100'), args().join(' ')); // 7 × 10 + 10 = 80 → 100
    h.kube.put(agent('support', 12));
    await reconcile();
    assert.ok(args().includes('max_connections=150'), args().join(' ')); // 13 × 10 + 10 = 140 → 150
    assert.equal(status().connections?.gatewaysAtPeak, 13);
  });

  test('the TLS Secret is generated once: later reconciles render the same certificate', async () => {
    h.kube.put(example('memorystore-postgres.yaml'));
    await reconcile();
    const first = secretData('callers-postgres-tls');
    assert.match(first['ca.crt'] ?? '', /BEGIN CERTIFICATE/);
    await reconcile();
    await reconcile();
    assert.deepEqual(secretData('callers-postgres-tls'), first);
  });

  test('a fleet that does not fit: pools lowered to the floor, ConnectionBudget=False, Degraded naming the field', async () => {
    const store = example('memorystore-postgres.yaml');
    h.kube.put({ ...store, spec: { ...store.spec, connections: { maxConnections: 50, reserved: 10 } } });
    h.kube.put(agent('support', 30));
    await reconcile();
    const budget = cond('ConnectionBudget');
    assert.equal(budget?.status, 'False');
    assert.equal(budget?.reason, 'BudgetExceeded');
    assert.match(budget?.message ?? '', /31 gateway pods at peak .* > spec\.connections\.maxConnections 50/);
    assert.equal(cond('Degraded')?.reason, 'ConnectionBudgetExceeded');
    assert.equal(status().connections?.poolPerGateway, 2);
    assert.ok(args().includes('max_connections=50'));
  });

  test('the VoiceAgent’s gateways get the pool size from the budget and the store’s CA', async () => {
    const store = example('memorystore-postgres.yaml');
    // 11 × 10 + 10 = 120 > 100: every pool lowered to floor(90 / 11) = 8.
    h.kube.put({ ...store, spec: { ...store.spec, connections: { maxConnections: 100 } } });
    h.kube.put(agent('echo', 10));
    await reconcile();
    assert.equal(status().connections?.poolPerGateway, 8);
    await h.kube.mergePatch('/apis/callfleet.io/v1alpha1/namespaces/team/memorystores/callers/status', {
      status: {
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'Available',
            message: '',
            lastTransitionTime: '2026-01-01T00:00:00Z',
          },
        ],
      },
    });
    h.kube.put(secret('twilio', ['account-sid', 'auth-token']));
    h.kube.put(secret('callers-encryption', ['key']));
    await h.settle();
    await reconcileVoiceAgent(h.ctx, 'team/echo', log);
    await h.settle();
    const config = h.kube.find('configmaps', 'team', 'echo-gateway-config') as {
      data?: Record<string, string>;
    };
    assert.equal(JSON.parse(config.data?.['gateway.json'] ?? '{}').memory.poolSize, 8);
    const pod = (h.kube.find('deployments', 'team', 'echo') as V1Deployment).spec?.template?.spec;
    const volume = pod?.volumes?.find((v) => v.name === 'memory-ca');
    assert.deepEqual(volume?.secret, {
      secretName: 'callers-postgres-tls',
      items: [{ key: 'ca.crt', path: 'ca.crt' }],
    });
    const env = pod?.containers[0]?.env?.find((e) => e.name === 'CALLFLEET_MEMORY_CA_FILE');
    assert.equal(env?.value, '/etc/callfleet/memory-ca/ca.crt');
  });

  test('cloudnative-pg: Ready and HighlyAvailable follow the Cluster’s status; gateways use the Secrets CloudNativePG creates', async () => {
    h.kube.put(example('memorystore-cloudnative-pg.yaml'));
    await reconcile('callers-ha');
    const cluster = h.kube.find('clusters', 'team', 'callers-ha-db') as KubernetesObject | undefined;
    assert.ok(cluster, 'the Cluster is applied');
    assert.ok(h.kube.find('scheduledbackups', 'team', 'callers-ha-db'));
    assert.ok(h.kube.find('podmonitors', 'team', 'callers-ha-db'));
    assert.equal(cond('Ready', 'callers-ha')?.status, 'False');
    assert.deepEqual(status('callers-ha').connectionSecret, { name: 'callers-ha-db-app', key: 'uri' });
    assert.deepEqual(status('callers-ha').caBundle, {
      kind: 'Secret',
      name: 'callers-ha-db-ca',
      key: 'ca.crt',
    });
    await h.kube.mergePatch('/apis/postgresql.cnpg.io/v1/namespaces/team/clusters/callers-ha-db/status', {
      status: {
        phase: 'Cluster in healthy state',
        readyInstances: 3,
        conditions: [{ type: 'Ready', status: 'True' }],
      },
    });
    await reconcile('callers-ha');
    assert.equal(cond('Ready', 'callers-ha')?.status, 'True');
    assert.match(cond('Ready', 'callers-ha')?.message ?? '', /healthy state \(3\/3 instances ready\)/);
    assert.equal(cond('HighlyAvailable', 'callers-ha')?.status, 'True');
  });

  test('cloudnative-pg recovering from its own backups: Ready=False InvalidSpec naming the field', async () => {
    const store = example('memorystore-cloudnative-pg.yaml');
    const spec = store.spec as { cloudnativePg: Record<string, unknown> };
    h.kube.put({
      ...store,
      spec: {
        ...spec,
        cloudnativePg: { ...spec.cloudnativePg, recovery: { sourceServerName: 'callers-ha-db' } },
      },
    });
    await reconcile('callers-ha');
    assert.equal(cond('Ready', 'callers-ha')?.reason, 'InvalidSpec');
    assert.match(
      cond('Ready', 'callers-ha')?.message ?? '',
      /^spec\.cloudnativePg\.recovery\.sourceServerName: must differ/,
    );
    assert.equal(h.kube.find('clusters', 'team', 'callers-ha-db'), undefined);
  });
});
