// What the tracker keeps on each gateway pod, derived from its live call count and its node.
import type { V1Pod } from '@kubernetes/client-node';
import { BUSY_LABEL, SERVING_LABEL } from '../../cdk8s/charts/labels.ts';

export const DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';
export const SAFE_TO_EVICT = 'cluster-autoscaler.kubernetes.io/safe-to-evict';

export interface PodMarks {
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** The marks for a pod; without a call count (its /status did not answer) only the serving label. */
export function desiredMarks(activeCalls: number | undefined, nodeCordoned: boolean): PodMarks {
  // A pod on a cordoned node takes no new calls, so it goes idle and the drain can evict it.
  const serving = { [SERVING_LABEL]: String(!nodeCordoned) };
  if (activeCalls === undefined) return { labels: serving, annotations: {} };
  const busy = activeCalls > 0;
  return {
    labels: { [BUSY_LABEL]: String(busy), ...serving },
    annotations: { [DELETION_COST]: String(activeCalls), [SAFE_TO_EVICT]: String(!busy) },
  };
}

/** The merge patch that brings the pod to `marks`, or undefined when it already carries them. */
export function marksPatch(pod: V1Pod, marks: PodMarks): { metadata: PodMarks } | undefined {
  const labels = pod.metadata?.labels ?? {};
  const annotations = pod.metadata?.annotations ?? {};
  const changedLabels = Object.entries(marks.labels).filter(([k, v]) => labels[k] !== v);
  const changedAnnotations = Object.entries(marks.annotations).filter(([k, v]) => annotations[k] !== v);
  if (!changedLabels.length && !changedAnnotations.length) return undefined;
  return {
    metadata: {
      labels: Object.fromEntries(changedLabels),
      annotations: Object.fromEntries(changedAnnotations),
    },
  };
}
