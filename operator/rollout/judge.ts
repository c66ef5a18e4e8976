// Is the rollout in progress a failure? Either the Deployment stopped making progress (pods never
// Ready within progressDeadlineSeconds), or the new pods fail more calls than allowed.
import type { V1Deployment } from '@kubernetes/client-node';

export interface RolloutPolicy {
  maxCallFailureRate: number;
  minCalls: number;
}

export interface NewPodCalls {
  total: number;
  failed: number;
}

/** The cause, in words, when the rollout failed; undefined while it is fine (or not judged yet). */
export function rolloutFailure(
  deployment: V1Deployment,
  calls: NewPodCalls,
  policy: RolloutPolicy,
): string | undefined {
  const progressing = deployment.status?.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded') {
    return `new gateway pods did not become ready in time (${progressing.message ?? 'ProgressDeadlineExceeded'})`;
  }
  if (calls.total >= policy.minCalls && calls.failed / calls.total > policy.maxCallFailureRate) {
    const percent = (100 * calls.failed) / calls.total;
    return `${calls.failed} of ${calls.total} calls failed on the new pods (${percent.toFixed(0)}% > ${(
      100 * policy.maxCallFailureRate
    ).toFixed(0)}%)`;
  }
  return undefined;
}
