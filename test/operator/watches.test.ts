// The operator's watches (operator/watches.ts): which informer events queue which typed requests.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { KubernetesObject } from '@kubernetes/client-node';
import { childResources } from '../../operator/kube/resources.ts';
import type { Informer, InformerHandler } from '../../operator/runtime/informer.ts';
import { type Request, requestKey } from '../../operator/runtime/request.ts';
import { WorkQueue } from '../../operator/runtime/work-queue.ts';
import { forKind, ownedBy, secretReaders, storesOfAgent, storeUsers, watch } from '../../operator/watches.ts';
import { example, type Harness, harness } from './reconcile/harness.ts';

type Queued = [Request, boolean | undefined];

function collect(): { queued: Queued[]; enqueue: (r: Request, urgent?: boolean) => void } {
  const queued: Queued[] = [];
  return { queued, enqueue: (request, urgent) => queued.push([request, urgent]) };
}

function agent(name: string, store?: string) {
  const va = example('voiceagent-echo.yaml');
  return {
    ...va,
    metadata: { ...va.metadata, name, uid: `uid-${name}` },
    spec: { ...va.spec, ...(store ? { memory: { storeRef: { name: store } } } : {}) },
  };
}

function pdb(generation: number, status: Record<string, unknown>, owner = 'VoiceAgent'): KubernetesObject {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: {
      name: 'echo',
      namespace: 'team',
      generation,
      ownerReferences: [
        { apiVersion: 'callfleet.io/v1alpha1', kind: owner, name: 'echo', uid: 'u', controller: true },
      ],
    },
    status,
  } as KubernetesObject;
}

describe('watches', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });
  afterEach(async () => {
    await h.stop();
  });

  test('forKind queues the object itself as a typed request', () => {
    const { queued, enqueue } = collect();
    forKind('CallCampaign')(enqueue)('added', { metadata: { namespace: 'team', name: 'spring' } });
    assert.deepEqual(queued, [[{ kind: 'CallCampaign', namespace: 'team', name: 'spring' }, undefined]]);
  });

  test('a VoiceAgent queues its MemoryStore, old and new; an invalid one names none', () => {
    const { queued, enqueue } = collect();
    storesOfAgent(enqueue)('updated', agent('echo', 'new'), agent('echo', 'old'));
    assert.deepEqual(
      queued.map(([r]) => r),
      [
        { kind: 'MemoryStore', namespace: 'team', name: 'new' },
        { kind: 'MemoryStore', namespace: 'team', name: 'old' },
      ],
    );
    queued.length = 0;
    const invalid = { ...agent('bad', 'callers'), spec: { memory: { storeRef: { name: 'callers' } } } };
    storesOfAgent(enqueue)('added', invalid);
    assert.deepEqual(queued, []);
  });

  test('a MemoryStore wakes the VoiceAgents of its namespace that name it', async () => {
    h.kube.put(agent('a', 'callers'));
    h.kube.put(agent('b', 'other'));
    h.kube.put(agent('c'));
    await h.settle();
    const { queued, enqueue } = collect();
    storeUsers(h.ctx.voiceAgents)(enqueue)('updated', { metadata: { namespace: 'team', name: 'callers' } });
    assert.deepEqual(queued, [[{ kind: 'VoiceAgent', namespace: 'team', name: 'a' }, undefined]]);
  });

  test("the operator's own write (written) wakes a store's users only when its Ready flips", async () => {
    h.kube.put(agent('a', 'callers'));
    await h.settle();
    const store = (ready: string) => ({
      metadata: { namespace: 'team', name: 'callers' },
      status: { conditions: [{ type: 'Ready', status: ready }] },
    });
    const { queued, enqueue } = collect();
    const handler = storeUsers(h.ctx.voiceAgents)(enqueue);
    handler('written', store('False'), store('False'));
    assert.deepEqual(queued, [], 'a status write that keeps Ready as it was');
    handler('written', store('True'), store('False'));
    assert.deepEqual(queued, [[{ kind: 'VoiceAgent', namespace: 'team', name: 'a' }, undefined]]);
  });

  test('written events do not requeue the written object, its owner or (for a VoiceAgent) its store', () => {
    const { queued, enqueue } = collect();
    forKind('VoiceAgent')(enqueue)('written', { metadata: { namespace: 'team', name: 'echo' } });
    ownedBy(enqueue)('written', pdb(3, {}), pdb(2, {}));
    storesOfAgent(enqueue)('written', agent('echo', 'callers'), agent('echo', 'callers'));
    assert.deepEqual(queued, []);
  });

  test("a resync queues the resource itself, never again through its children's or Secrets' resyncs", () => {
    const { queued, enqueue } = collect();
    const informer = () => {
      const handlers: InformerHandler<KubernetesObject>[] = [];
      const fake = { on: (h: InformerHandler<KubernetesObject>) => handlers.push(h) };
      return {
        informer: fake as unknown as Informer,
        emit: (...a: Parameters<InformerHandler<KubernetesObject>>) => {
          for (const h of handlers) h(...a);
        },
      };
    };
    const agents = informer();
    const children = informer();
    const secrets = informer();
    h.ctx.secretIndex?.set('team/echo', 'team', ['twilio']);
    watch(agents.informer, enqueue, forKind('VoiceAgent'), storesOfAgent);
    watch(children.informer, enqueue, ownedBy);
    watch(secrets.informer, enqueue, secretReaders(h.ctx.secretIndex ?? assert.fail()));
    agents.emit('resync', agent('echo', 'callers'));
    children.emit('resync', pdb(2, {}));
    secrets.emit('resync', { metadata: { namespace: 'team', name: 'twilio' } });
    assert.deepEqual(queued, [[{ kind: 'VoiceAgent', namespace: 'team', name: 'echo' }, undefined]]);
    // Any other event still flows through every mapping.
    children.emit('added', pdb(1, {}));
    secrets.emit('updated', { metadata: { namespace: 'team', name: 'twilio' } });
    assert.equal(queued.length, 3);
  });

  test('a Secret wakes the VoiceAgents that read it', () => {
    h.ctx.secretIndex?.set('team/echo', 'team', ['twilio']);
    const { queued, enqueue } = collect();
    secretReaders(h.ctx.secretIndex ?? assert.fail())(enqueue)('added', {
      metadata: { namespace: 'team', name: 'twilio' },
    });
    assert.deepEqual(queued, [[{ kind: 'VoiceAgent', namespace: 'team', name: 'echo' }, undefined]]);
  });

  test('a child queues its controlling owner; a status-only update of an unread status does not', () => {
    const { queued, enqueue } = collect();
    const handler = ownedBy(enqueue);
    handler('updated', pdb(2, { currentHealthy: 1 }), pdb(2, { currentHealthy: 2 }));
    assert.deepEqual(queued, [], 'status only');
    handler('updated', pdb(3, {}), pdb(2, {}));
    assert.deepEqual(queued, [[{ kind: 'VoiceAgent', namespace: 'team', name: 'echo' }, false]]);
    queued.length = 0;
    handler('added', pdb(1, {}, 'ConfigMap'));
    assert.deepEqual(queued, [], 'an owner that is not a reconciled kind');
  });

  test('the kind table registers every child kind the controller informs', () => {
    const kinds = childResources().map((r) => r.kind);
    assert.ok(kinds.includes('Deployment') && kinds.includes('HTTPRoute') && kinds.includes('Secret'));
    assert.ok(!kinds.includes('Pod') && !kinds.includes('VoiceAgent') && !kinds.includes('Lease'));
  });

  test('typed requests are de-duplicated by their key while they wait', async () => {
    const runs: Request[] = [];
    const queue = new WorkQueue<Request>(
      async (request) => {
        runs.push(request);
        return undefined;
      },
      { keyOf: requestKey, concurrency: 1 },
    );
    queue.add({ kind: 'VoiceAgent', namespace: 'team', name: 'echo' });
    queue.add({ kind: 'VoiceAgent', namespace: 'team', name: 'other' });
    queue.add({ kind: 'VoiceAgent', namespace: 'team', name: 'other' });
    queue.add({ kind: 'MemoryStore', namespace: 'team', name: 'other' });
    await queue.idle();
    assert.deepEqual(
      runs.map((r) => `${r.kind} ${r.name}`),
      ['VoiceAgent echo', 'VoiceAgent other', 'MemoryStore other'],
    );
    await queue.stop();
  });
});
