// A ReconcileContext over the in-memory API door: real informers, real EventRecorder and metrics, the
// fake in place of the API server. Reconcilers run exactly as in the operator, only faster.

import { readFileSync } from 'node:fs';
import type { KubernetesObject, V1Deployment, V1ReplicaSet } from '@kubernetes/client-node';
import pino from 'pino';
import { parse } from 'yaml';
import { EventRecorder } from '../../../operator/events.ts';
import { childResources, resourceFor } from '../../../operator/kube/resources.ts';
import { createOperatorMetrics } from '../../../operator/metrics.ts';
import type { ChildCaches } from '../../../operator/reconcile/children.ts';
import type { ReconcileContext } from '../../../operator/reconcile/context.ts';
import { SecretIndex, secretKeysOnly } from '../../../operator/reconcile/secret-refs.ts';
import type { WithStatus } from '../../../operator/reconcile/status.ts';
import { reconcileVoiceAgent } from '../../../operator/reconcile/voiceagent.ts';
import { Informer } from '../../../operator/runtime/informer.ts';
import { FakeKube } from '../fake-kube.ts';

export const log = pino({ level: 'silent' });
const root = new URL('../../../', import.meta.url).pathname;

export interface Harness {
  kube: FakeKube;
  ctx: ReconcileContext;
  informers: Informer[];
  /** Lets the informers see what the fake holds now (their watches deliver asynchronously). */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

export async function harness(): Promise<Harness> {
  const kube = new FakeKube();
  const informers: Informer[] = [];
  const make = <T extends KubernetesObject>(
    apiVersion: string,
    kind: string,
    transform?: (o: KubernetesObject) => KubernetesObject,
  ) => {
    const i = new Informer<T>(kube.rest, { resource: resourceFor(apiVersion, kind), transform }, log);
    informers.push(i as unknown as Informer);
    return i;
  };
  const caches: ChildCaches = new Map();
  for (const { apiVersion, kind } of childResources())
    caches.set(`${apiVersion}/${kind}`, make(apiVersion, kind));
  const ctx: ReconcileContext = {
    rest: kube.rest,
    caches,
    voiceAgents: make<WithStatus>('callfleet.io/v1alpha1', 'VoiceAgent'),
    memoryStores: make<WithStatus>('callfleet.io/v1alpha1', 'MemoryStore'),
    replicaSets: make<V1ReplicaSet>('apps/v1', 'ReplicaSet'),
    secrets: make('v1', 'Secret', secretKeysOnly),
    secretIndex: new SecretIndex(),
    events: new EventRecorder(kube.rest, 'test', log),
    metrics: createOperatorMetrics(),
    log,
  };
  await Promise.all(informers.map((i) => i.start()));
  return {
    kube,
    ctx,
    informers,
    settle: () => new Promise((r) => setTimeout(r, 20)),
    stop: async () => {
      await Promise.all(informers.map((i) => i.stop()));
    },
  };
}

export function example(file: string, namespace = 'team'): WithStatus & { spec: Record<string, unknown> } {
  const doc = parse(readFileSync(`${root}examples/${file}`, 'utf8'));
  return { ...doc, metadata: { ...doc.metadata, namespace } };
}

export function secret(name: string, keys: string[], namespace = 'team'): KubernetesObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    data: Object.fromEntries(keys.map((k) => [k, Buffer.from('x').toString('base64')])),
  } as KubernetesObject;
}

export function readyCondition(o: KubernetesObject | undefined) {
  return (o as WithStatus | undefined)?.status?.conditions?.find((c) => c.type === 'Ready');
}

/** One VoiceAgent reconcile, with the informers settled before and after (they see the fake's writes). */
export async function reconcileAgent(h: Harness, key: string) {
  await h.settle();
  const outcome = await reconcileVoiceAgent(h.ctx, key, log);
  await h.settle();
  return outcome;
}

/** The Deployment controller's report for `team/<name>`: `available` of 3 pods up, all updated. */
export function reportDeployment(h: Harness, available: number, name = 'echo'): void {
  const d = h.kube.find('deployments', 'team', name) as V1Deployment;
  h.kube.put({
    ...d,
    status: {
      observedGeneration: d.metadata?.generation ?? 1,
      replicas: 3,
      updatedReplicas: 3,
      readyReplicas: available,
      availableReplicas: available,
    },
  } as KubernetesObject);
}
