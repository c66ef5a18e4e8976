// Cache transforms (as controller-runtime's cache TransformFunc): every object is trimmed to what the
// operator reads before it is stored, so memory follows what the operator needs, not what the API
// server sends. managedFields (often half of an object's JSON) and kubectl's last-applied annotation
// are never read; pods and nodes, the kinds that grow with the fleet, keep only the fields the call
// tracker, the scaler and the rollout guard use.
import type { KubernetesObject, V1Node, V1Pod } from '@kubernetes/client-node';
import { CREATE_ONLY_ANNOTATION } from '../reconcile/children.ts';
import { secretKeysOnly } from '../reconcile/secret-refs.ts';

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** Drops metadata.managedFields and the last-applied annotation (in place: the object is fresh JSON). */
export function stripServerFields<T extends KubernetesObject>(object: T): T {
  const metadata = object.metadata;
  if (!metadata) return object;
  delete metadata.managedFields;
  if (metadata.annotations?.[LAST_APPLIED] !== undefined) {
    const { [LAST_APPLIED]: _drop, ...rest } = metadata.annotations;
    metadata.annotations = rest;
  }
  return object;
}

/** A gateway pod as the call tracker, the scaler and the rollout guard read it. */
export function slimPod(object: KubernetesObject): KubernetesObject {
  const pod = object as V1Pod;
  const m = pod.metadata ?? {};
  const container = pod.spec?.containers?.[0];
  const slim: V1Pod = {
    apiVersion: pod.apiVersion,
    kind: pod.kind,
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      creationTimestamp: m.creationTimestamp,
      deletionTimestamp: m.deletionTimestamp,
      labels: m.labels,
      annotations: m.annotations,
    },
    spec: {
      nodeName: pod.spec?.nodeName,
      containers: [
        {
          name: container?.name ?? '',
          ports: container?.ports?.map((p) => ({ name: p.name, containerPort: p.containerPort })),
        },
      ],
    },
    status: {
      phase: pod.status?.phase,
      podIP: pod.status?.podIP,
      conditions: pod.status?.conditions
        ?.filter((c) => c.type === 'Ready')
        .map((c) => ({ type: c.type, status: c.status })),
    },
  };
  return stripServerFields(slim as KubernetesObject);
}

/** A node as the call tracker reads it: is it cordoned? */
export function slimNode(object: KubernetesObject): KubernetesObject {
  const node = object as V1Node;
  return {
    apiVersion: node.apiVersion,
    kind: node.kind,
    metadata: { name: node.metadata?.name, resourceVersion: node.metadata?.resourceVersion },
    spec: { unschedulable: node.spec?.unschedulable },
  } as V1Node;
}

const MANAGED_BY = 'app.kubernetes.io/managed-by';

/**
 * One Secret cache for both readers: Secrets the operator generated keep their data (a stream key is
 * re-rendered from it; a create-only password is never rewritten), every other Secret keeps only its
 * key names (enough to say which referenced key is missing; never a user's secret values).
 */
export function secretForCache(object: KubernetesObject): KubernetesObject {
  const managed = object.metadata?.labels?.[MANAGED_BY] === 'callfleet-operator';
  const createOnly = object.metadata?.annotations?.[CREATE_ONLY_ANNOTATION] === 'true';
  return stripServerFields(managed || createOnly ? object : secretKeysOnly(object));
}
