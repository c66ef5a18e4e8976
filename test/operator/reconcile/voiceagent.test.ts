// The VoiceAgent reconciler on the in-memory API door: what it applies, scales, prunes and reports, and
// that every problem only the user can fix ends as a Ready=False condition, never a failing reconcile.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import { reconcileVoiceAgent } from '../../../operator/reconcile/voiceagent.ts';
import { example, type Harness, harness, log, readyCondition, secret } from './harness.ts';

const KEY = 'team/echo';
const twilio = () => secret('twilio', ['account-sid', 'auth-token']);

function echo(spec: Record<string, unknown> = {}) {
  const va = example('voiceagent-echo.yaml');
  return { ...va, metadata: { ...va.metadata, uid: 'va-uid' }, spec: { ...va.spec, ...spec } };
}

function hhmm(d: Date): string {
  return d.toISOString().slice(11, 16);
}

describe('reconcileVoiceAgent', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });
  afterEach(async () => {
    await h.stop();
  });

  async function reconcile() {
    await h.settle();
    const outcome = await reconcileVoiceAgent(h.ctx, KEY, log);
    await h.settle();
    return outcome;
  }
  const va = () => h.kube.find('voiceagents', 'team', 'echo');
  const deployment = () => h.kube.find('deployments', 'team', 'echo') as V1Deployment | undefined;

  test('a valid VoiceAgent with its Secrets: children applied, the Deployment scaled, status written', async () => {
    h.kube.put(twilio());
    h.kube.put(echo());
    await reconcile();
    assert.ok(deployment(), 'Deployment applied');
    assert.ok(h.kube.find('configmaps', 'team', 'echo-gateway-config'), 'gateway config applied');
    assert.equal(readyCondition(va())?.reason, 'Creating');
  });

  test('spec.replicas is what the Deployment is scaled to', async () => {
    h.kube.put(twilio());
    h.kube.put(echo({ replicas: 3 }));
    await reconcile();
    assert.equal(deployment()?.spec?.replicas, 3);
    h.kube.put(echo({ replicas: 5 }));
    await reconcile();
    assert.equal(deployment()?.spec?.replicas, 5);
  });

  test('a new Deployment is created at its count, not at one pod and scaled; later applies keep the count', async () => {
    const scaleWrites = () => h.kube.calls.filter((c) => c.path.endsWith('/scale')).length;
    h.kube.put(twilio());
    h.kube.put(echo({ replicas: 3 }));
    await reconcile();
    assert.equal(deployment()?.spec?.replicas, 3);
    assert.equal(scaleWrites(), 0, 'the apply that created it stated the count');

    h.kube.put(echo({ replicas: 5 }));
    const rescaled = await reconcile();
    assert.equal(deployment()?.spec?.replicas, 5);
    assert.equal(scaleWrites(), 1, 'a change of scale is one scale write');
    assert.equal(rescaled?.requeueAfterMs, 1, 'looked at again at once: the idle budget follows the scale');
    // A template change later: the apply states the count it has, and moves nothing.
    h.kube.put(echo({ replicas: 5, image: 'callfleet/voice-gateway:next' }));
    await reconcile();
    assert.equal(deployment()?.spec?.template.spec?.containers[0]?.image, 'callfleet/voice-gateway:next');
    assert.equal(deployment()?.spec?.replicas, 5);
    assert.equal(scaleWrites(), 1);
  });

  test('an active schedule window raises the replicas above spec.replicas', async () => {
    h.kube.put(twilio());
    const now = Date.now();
    const window = {
      name: 'now',
      days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'],
      start: hhmm(new Date(now - 3_600_000)),
      end: hhmm(new Date(now + 3_600_000)),
      timeZone: 'UTC',
      minReplicas: 4,
    };
    h.kube.put(echo({ replicas: 2, autoscaling: { schedule: [window] } }));
    const outcome = await reconcile();
    assert.equal(deployment()?.spec?.replicas, 4, 'the window minimum, not spec.replicas');
    assert.ok(outcome?.requeueAfterMs, 'looked at again as windows open and close');
    // A window that is not active leaves spec.replicas.
    const later = {
      ...window,
      start: hhmm(new Date(now + 7_200_000)),
      end: hhmm(new Date(now + 10_800_000)),
    };
    h.kube.put(echo({ replicas: 2, autoscaling: { schedule: [later] } }));
    await reconcile();
    assert.equal(deployment()?.spec?.replicas, 2);
  });

  test('an unknown time zone: Ready=False InvalidSpec with the field path, nothing applied, no throw', async () => {
    h.kube.put(twilio());
    const window = {
      name: 'biz',
      days: ['Mon'],
      start: '08:00',
      end: '18:00',
      timeZone: 'America/New_Yrok',
      minReplicas: 3,
    };
    h.kube.put(echo({ autoscaling: { schedule: [window] } }));
    await reconcile(); // must not throw
    const ready = readyCondition(va());
    assert.equal(ready?.status, 'False');
    assert.equal(ready?.reason, 'InvalidSpec');
    assert.match(ready?.message ?? '', /spec\.autoscaling\.schedule\[0\]\.timeZone/);
    assert.equal(h.kube.calls.filter((c) => c.verb === 'apply').length, 0, 'no child applied');
  });

  test('a missing Secret: Ready=False SecretNotFound naming the Secret and field; clears when it appears', async () => {
    h.kube.put(echo());
    await reconcile();
    let ready = readyCondition(va());
    assert.equal(ready?.status, 'False');
    assert.equal(ready?.reason, 'SecretNotFound');
    assert.match(
      ready?.message ?? '',
      /Secret twilio \(spec\.telephony\.twilio\.(authToken|accountSid)SecretRef\)/,
    );
    assert.equal(deployment(), undefined, 'no Deployment whose pods could not start');
    assert.deepEqual(
      h.ctx.secretIndex?.agentsReading('team/twilio'),
      [KEY],
      'the Secret wakes this VoiceAgent',
    );

    // The Secret appears without its key.
    h.kube.put(secret('twilio', ['account-sid']));
    await reconcile();
    ready = readyCondition(va());
    assert.equal(ready?.reason, 'SecretKeyNotFound');
    assert.match(
      ready?.message ?? '',
      /Secret twilio has no key auth-token \(spec\.telephony\.twilio\.authTokenSecretRef\)/,
    );

    h.kube.put(twilio());
    await reconcile();
    assert.equal(readyCondition(va())?.reason, 'Creating');
    assert.ok(deployment());
  });

  test('a missing MemoryStore, then an unready one, then a Ready one', async () => {
    h.kube.put(twilio());
    h.kube.put(echo({ memory: { storeRef: { name: 'callers' } } }));
    await reconcile();
    let ready = readyCondition(va());
    assert.equal(ready?.reason, 'MemoryStoreNotFound');
    assert.match(
      ready?.message ?? '',
      /MemoryStore callers \(spec\.memory\.storeRef\) does not exist in namespace team/,
    );

    const store = example('memorystore-postgres.yaml');
    h.kube.put(store);
    await reconcile();
    ready = readyCondition(va());
    assert.equal(ready?.reason, 'MemoryStoreNotReady');
    assert.equal(deployment(), undefined);

    const readyStore = h.kube.find('memorystores', 'team', 'callers') as KubernetesObject;
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
    assert.ok(readyStore);
    // The store's connection Secret and the encryption key it names must exist too.
    await reconcile();
    assert.equal(readyCondition(va())?.reason, 'SecretNotFound');
    h.kube.put(secret('callers-connection', ['url']));
    h.kube.put(secret('callers-encryption', ['key']));
    await reconcile();
    // The CA the gateways verify the database with (the postgres engine's generated TLS Secret).
    assert.match(readyCondition(va())?.message ?? '', /callers-postgres-tls \(volume memory-ca\)/);
    h.kube.put(secret('callers-postgres-tls', ['ca.crt', 'tls.crt', 'tls.key']));
    await reconcile();
    assert.equal(readyCondition(va())?.reason, 'Creating');
    const config = h.kube.find('configmaps', 'team', 'echo-gateway-config') as {
      data?: Record<string, string>;
    };
    const gateway = JSON.parse(config.data?.['gateway.json'] ?? '{}');
    assert.deepEqual(gateway.memory.retention, {
      transcriptsDays: 30,
      memoriesDays: 365,
      sweepIntervalSeconds: 3600,
    });
  });

  test('prune: a child this VoiceAgent owns but no longer renders is deleted; others are kept', async () => {
    h.kube.put(twilio());
    h.kube.put(echo({ monitoring: { serviceMonitor: false } }));
    await reconcile();
    const owner = {
      apiVersion: 'callfleet.io/v1alpha1',
      kind: 'VoiceAgent',
      name: 'echo',
      uid: 'va-uid',
      controller: true,
    };
    const stale = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'echo-old',
        namespace: 'team',
        ownerReferences: [owner],
        labels: { 'app.kubernetes.io/managed-by': 'callfleet-operator' },
      },
    };
    const foreign = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'someone-elses', namespace: 'team' },
    };
    h.kube.put(stale as KubernetesObject);
    h.kube.put(foreign as KubernetesObject);
    await reconcile();
    assert.equal(h.kube.find('configmaps', 'team', 'echo-old'), undefined, 'stale child pruned');
    assert.ok(h.kube.find('configmaps', 'team', 'someone-elses'), 'not ours: kept');
    assert.ok(h.kube.find('configmaps', 'team', 'echo-gateway-config'), 'rendered child kept');
  });
});
