// Which events wake which reconciles: the operator's watches as named mappings, in the spirit of
// controller-runtime's builder (For, Owns, Watches with EnqueueRequestsFromMapFunc / EnqueueRequestForOwner).
// Each mapping turns an informer event into the requests it should queue; controller.ts lists which
// informer feeds which mapping.
import type { KubernetesObject } from '@kubernetes/client-node';
import { objectKey } from './kube/resources.ts';
import { findCondition } from './reconcile/conditions.ts';
import { storeRefOf } from './reconcile/connection-budget.ts';
import type { SecretIndex } from './reconcile/secret-refs.ts';
import type { WithStatus } from './reconcile/status.ts';
import { urgentChildChange } from './reconcile/urgent-changes.ts';
import type { Informer, InformerHandler } from './runtime/informer.ts';
import {
  isReconciledKind,
  type ReconciledKind,
  type Request,
  requestForKey,
  requestOf,
} from './runtime/request.ts';

/** Queues a request; `urgent` puts it ahead of every request that is not. */
export type Enqueue = (request: Request, urgent?: boolean) => void;

/** A mapping from one informer's events to requests; `onResync`: it is handed resync events too. */
export type Mapping<T extends KubernetesObject = KubernetesObject> = ((
  enqueue: Enqueue,
) => InformerHandler<T>) & { onResync?: boolean };

/**
 * Feeds an informer's events to mappings (in order: each event queues what the first maps first).
 * A resync reaches `forKind` alone: a custom resource's own resync reconciles everything it owns or
 * reads, so its children's and Secrets' resyncs would only queue it again (at 1,000 VoiceAgents with
 * eleven children each, twelve reconciles per VoiceAgent per period instead of one).
 */
export function watch<T extends KubernetesObject>(
  informer: Informer<T>,
  enqueue: Enqueue,
  ...mappings: Mapping<T>[]
): void {
  for (const mapping of mappings) {
    const handler = mapping(enqueue);
    informer.on(
      mapping.onResync
        ? handler
        : (event, object, previous) => {
            if (event !== 'resync') handler(event, object, previous);
          },
    );
  }
}

/** For: every event of a reconciled kind queues the object itself. */
export function forKind(kind: ReconciledKind): Mapping {
  const mapping: Mapping = (enqueue) => (event, object) => {
    if (event !== 'written') enqueue(requestOf(kind, object));
  };
  mapping.onResync = true;
  return mapping;
}

/**
 * A VoiceAgent's MemoryStore, old and new: the store's connection budget counts its VoiceAgents, so it is
 * recomputed when one starts or stops naming it.
 */
export const storesOfAgent: Mapping = (enqueue) => (event, object, previous) => {
  if (event === 'written') return; // the operator writes a VoiceAgent's status, never its storeRef
  for (const store of new Set([storeRefOf(object), storeRefOf(previous)])) {
    if (store) enqueue({ kind: 'MemoryStore', namespace: object.metadata?.namespace ?? '', name: store });
  }
};

/**
 * The VoiceAgents that name a MemoryStore: they wait for their store, so its changes wake them. That
 * includes the operator's own status write that makes the store Ready (a `written` event).
 */
export function storeUsers<T extends KubernetesObject>(voiceAgents: Informer<T>): Mapping {
  return (enqueue) => (event, store, previous) => {
    if (event === 'written' && readyOf(store) === readyOf(previous)) return;
    const namespace = store.metadata?.namespace;
    for (const va of voiceAgents.list((v) => v.metadata?.namespace === namespace)) {
      if (storeRefOf(va) === store.metadata?.name) enqueue(requestOf('VoiceAgent', va));
    }
  };
}

/** The VoiceAgents that read a Secret: one whose Secret was missing is reconciled when it appears. */
export function secretReaders(index: SecretIndex): Mapping {
  return (enqueue) => (_event, secret) => {
    for (const agent of index.agentsReading(objectKey(secret))) enqueue(requestForKey('VoiceAgent', agent));
  };
}

/**
 * Owns (EnqueueRequestForOwner): a child's change queues the custom resource that controls it, unless
 * only a status no reconcile reads changed. A child whose availability flipped is urgent: readiness is
 * reported as it happens, not after the keys waiting for their first apply.
 */
export const ownedBy: Mapping = (enqueue) => (event, object, previous) => {
  if (event === 'written') return; // the reconcile that applied it has read it already
  if (event === 'updated' && previous && onlyStatusChanged(object, previous)) return;
  const owner = object.metadata?.ownerReferences?.find((r) => r.controller && isReconciledKind(r.kind));
  if (!owner || !isReconciledKind(owner.kind)) return;
  const request = { kind: owner.kind, namespace: object.metadata?.namespace ?? '', name: owner.name };
  enqueue(request, urgentChildChange(event, object, previous));
};

/** Kinds whose status a reconcile reads (readiness of the fleet / the database). */
// HTTPRoute: its status.parents (accepted by the Gateway?) becomes the VoiceAgent's RouteAccepted condition.
const STATUS_READ = new Set(['Deployment', 'StatefulSet', 'HTTPRoute', 'Cluster']);

/** An update that touched only the status of a child whose status no reconcile reads (HPA, PDB, ...). */
function onlyStatusChanged(object: KubernetesObject, previous: KubernetesObject): boolean {
  if (STATUS_READ.has(object.kind ?? '')) return false;
  const same = (a: unknown, b: unknown) => JSON.stringify(a ?? {}) === JSON.stringify(b ?? {});
  const m = object.metadata;
  const p = previous.metadata;
  return (
    m?.generation !== undefined &&
    m.generation === p?.generation &&
    same(m.labels, p?.labels) &&
    same(m.annotations, p?.annotations) &&
    same(m.ownerReferences, p?.ownerReferences)
  );
}

/** The status of a custom resource's Ready condition (undefined when it has none). */
const readyOf = (object: WithStatus | undefined) =>
  findCondition(object?.status?.conditions, 'Ready')?.status;
