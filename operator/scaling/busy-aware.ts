// Busy-aware scaling: raise the Deployment at once, lower it only by the number of idle pods, so a
// scale-down never picks a pod with live calls (their pod-deletion-cost keeps them last).
export interface FleetCalls {
  /** Pods that are running, not terminating, and carry no call. */
  idlePods: number;
  /** True when every pod was polled recently (deletion costs are current). */
  fresh: boolean;
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
  if (!calls?.fresh) return { replicas: current, waiting: true };
  const removable = Math.min(current - target, calls.idlePods);
  const replicas = current - removable;
  return { replicas, waiting: replicas > target };
}
