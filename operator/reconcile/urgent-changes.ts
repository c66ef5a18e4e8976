// Which child updates go ahead of the work queue's backlog (issue 24): the ones that flip what a
// reconcile reports as Ready (a Deployment or StatefulSet became, or stopped being, fully available; a
// route's acceptance changed). Intermediate status updates (counts while pods start) wait their turn and
// coalesce, so they cost no extra reconcile and no extra status write during a mass rollout.
import type { KubernetesObject, V1Deployment, V1StatefulSet } from '@kubernetes/client-node';

function available(object: KubernetesObject | undefined): boolean | undefined {
  if (!object) return undefined;
  if (object.kind === 'Deployment') {
    const d = object as V1Deployment;
    const want = d.spec?.replicas ?? 1;
    const s = d.status;
    return (
      (s?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
      (s?.updatedReplicas ?? 0) >= want &&
      (s?.availableReplicas ?? 0) >= want &&
      (s?.replicas ?? 0) === (s?.updatedReplicas ?? 0)
    );
  }
  if (object.kind === 'StatefulSet') {
    const s = object as V1StatefulSet;
    return (s.status?.readyReplicas ?? 0) >= (s.spec?.replicas ?? 1);
  }
  return undefined;
}

export function urgentChildChange(
  event: string,
  object: KubernetesObject,
  previous: KubernetesObject | undefined,
): boolean {
  if (event !== 'updated') return false;
  if (object.kind === 'HTTPRoute')
    return (
      JSON.stringify((object as { status?: unknown }).status) !==
      JSON.stringify((previous as { status?: unknown } | undefined)?.status)
    );
  const now = available(object);
  return now !== undefined && now !== available(previous);
}
