// What the tracker keeps on each gateway pod, derived from its live call count and its node.
import type { V1Pod } from '@kubernetes/client-node';
import { BUSY_LABEL, SERVING_LABEL } from '../../cdk8s/charts/labels.ts';

export const DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';
export const SAFE_TO_EVICT = 'cluster-autoscaler.kubernetes.io/safe-to-evict';
/** Karpenter (EKS Auto Mode's node autoscaler) neither consolidates nor drifts a node with such a pod. */
export const DO_NOT_DISRUPT = 'karpenter.sh/do-not-disrupt';

export interface PodMarks {
  labels: Record<string, string>;
  /** null: the annotation is removed (JSON merge patch). */
  annotations: Record<string, string | null>;
}

/** The marks for a pod; without a call count (its /status did not answer) only the serving label. */
/** Deletion cost of an idle pod that agreed to be removed (retired): below every other pod's, so the
 * ReplicaSet removes exactly the pods that agreed. */
export const RETIRED_DELETION_COST = '-1';

export function desiredMarks(
  activeCalls: number | undefined,
  nodeCordoned: boolean,
  draining = false,
): PodMarks {
  // A pod on a cordoned node takes no new calls, so it goes idle and the drain can evict it.
  const serving = { [SERVING_LABEL]: String(!nodeCordoned) };
  if (activeCalls === undefined) return { labels: serving, annotations: {} };
  const busy = activeCalls > 0;
  // Busy: every autoscaler is told to leave the node alone. Idle: no block at all; safe-to-evict stays
  // "true" because the pod's /tmp emptyDir would otherwise keep the cluster-autoscaler from removing the node.
  return {
    labels: { [BUSY_LABEL]: String(busy), ...serving },
    annotations: {
      [DELETION_COST]: !busy && draining ? RETIRED_DELETION_COST : String(activeCalls),
      [SAFE_TO_EVICT]: String(!busy),
      [DO_NOT_DISRUPT]: busy ? 'true' : null,
    },
  };
}

/** The merge patch that brings the pod to `marks`, or undefined when it already carries them. */
export function marksPatch(pod: V1Pod, marks: PodMarks): { metadata: PodMarks } | undefined {
  const labels = pod.metadata?.labels ?? {};
  const annotations = pod.metadata?.annotations ?? {};
  const changedLabels = Object.entries(marks.labels).filter(([k, v]) => labels[k] !== v);
  const changedAnnotations = Object.entries(marks.annotations).filter(
    ([k, v]) => (annotations[k] ?? null) !== v,
  );
  if (!changedLabels.length && !changedAnnotations.length) return undefined;
  return {
    metadata: {
      labels: Object.fromEntries(changedLabels),
      annotations: Object.fromEntries(changedAnnotations),
    },
  };
}
