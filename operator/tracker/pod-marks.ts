// The write that brings a pod's marks (cdk8s/charts/pod-marks.ts) to what its calls and node call for.
import type { V1Pod } from '@kubernetes/client-node';
import type { PodMarks } from '../../cdk8s/charts/pod-marks.ts';

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
