// The marks the operator keeps on each gateway pod (ADR 0009, 0021): a label and annotations per
// call state, read by the Services, the PodDisruptionBudgets and every node autoscaler. Defined beside
// the charts because a new pod starts with the idle marks from its template (voiceagent/deployment.ts):
// a pod that never takes a call never needs a write.
import { BUSY_LABEL, SERVING_LABEL } from './labels.ts';

export const DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';
export const SAFE_TO_EVICT = 'cluster-autoscaler.kubernetes.io/safe-to-evict';
/** Karpenter (EKS Auto Mode's node autoscaler) neither consolidates nor drifts a node with such a pod. */
export const DO_NOT_DISRUPT = 'karpenter.sh/do-not-disrupt';

export interface PodMarks {
  /** null: the label is removed (JSON merge patch). */
  labels: Record<string, string | null>;
  /** null: the annotation is removed (JSON merge patch). */
  annotations: Record<string, string | null>;
}

/** Deletion cost of an idle pod that agreed to be removed (retired): below every other pod's, so the
 * ReplicaSet removes exactly the pods that agreed. */
export const RETIRED_DELETION_COST = '-1';

/** The marks for a pod; without a call count (its /status did not answer) only the serving label. */
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
  // The busy label is there only while the pod is busy, never in the pod template: the ReplicaSet
  // controller counts pods carrying all the template's labels (fullyLabeledReplicas), so a template
  // label that changed with every call would cost a ReplicaSet status write per call edge (ADR 0031).
  return {
    labels: { [BUSY_LABEL]: busy ? 'true' : null, ...serving },
    annotations: {
      [DELETION_COST]: !busy && draining ? RETIRED_DELETION_COST : String(activeCalls),
      [SAFE_TO_EVICT]: String(!busy),
      [DO_NOT_DISRUPT]: busy ? 'true' : null,
    },
  };
}

/** The marks of an idle pod on a schedulable node: what the pod template starts every pod with. */
export function idleMarks(): { labels: Record<string, string>; annotations: Record<string, string> } {
  const { labels, annotations } = desiredMarks(0, false);
  return { labels: present(labels), annotations: present(annotations) };
}

function present(marks: Record<string, string | null>): Record<string, string> {
  return Object.fromEntries(Object.entries(marks).filter((e): e is [string, string] => e[1] !== null));
}
