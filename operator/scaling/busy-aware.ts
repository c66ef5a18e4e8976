// Busy-aware scaling: raise the Deployment at once, lower it only by the number of idle pods, so a
// scale-down never picks a pod with live calls (their pod-deletion-cost keeps them last).
export interface FleetCalls {
  /** Pods that are running, not terminating, and carry no call. */
  idlePods: number;
  /** True when every pod was polled recently (deletion costs are current). */
  fresh: boolean;
  /** Pods not terminating. */
  livePods: number;
}

export interface ScaleDecision {
  replicas: number;
  /** More scale-down is wanted than is safe now: look again after the next poll. */
  waiting: boolean;
}

export function decideReplicas(
  target: number,
  current: number | undefined,
  calls: FleetCalls | undefined,
): ScaleDecision {
  if (current === undefined || target >= current) return { replicas: target, waiting: false };
  // Lower again only once the last step has taken effect: until the ReplicaSet has marked its pod for
  // deletion, that pod still counts as idle and would be removed twice.
  if (!calls?.fresh || calls.livePods > current) return { replicas: current, waiting: true };
  const removable = Math.min(current - target, calls.idlePods);
  const replicas = current - removable;
  return { replicas, waiting: replicas > target };
}
