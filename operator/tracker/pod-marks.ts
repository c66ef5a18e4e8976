// The write that brings a pod's marks (cdk8s/charts/pod-marks.ts) to what its calls and node call for.
import type { V1Pod } from '@kubernetes/client-node';
import { BUSY_LABEL } from '../../cdk8s/charts/labels.ts';
import type { PodMarks } from '../../cdk8s/charts/pod-marks.ts';

/** The merge patch that brings the pod to `marks`, or undefined when it already carries them. */
export function marksPatch(pod: V1Pod, marks: PodMarks): { metadata: PodMarks } | undefined {
  const labels = pod.metadata?.labels ?? {};
  const annotations = pod.metadata?.annotations ?? {};
  const changed = (current: Record<string, string>, wanted: Record<string, string | null>) =>
    Object.entries(wanted).filter(([k, v]) => !settled(k, current[k] ?? null, v));
  const changedLabels = changed(labels, marks.labels);
  const changedAnnotations = changed(annotations, marks.annotations);
  if (!changedLabels.length && !changedAnnotations.length) return undefined;
  return {
    metadata: {
      labels: Object.fromEntries(changedLabels),
      annotations: Object.fromEntries(changedAnnotations),
    },
  };
}

/** A pod from a template older than ADR 0031 carries busy=false: it is idle already, and needs no write. */
function settled(key: string, current: string | null, wanted: string | null): boolean {
  return current === wanted || (key === BUSY_LABEL && wanted === null && current === 'false');
}
