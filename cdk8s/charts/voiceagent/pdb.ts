// Two disjoint PDBs: busy pods (label set by the operator) are never evicted; idle pods are, as long as
// one idle pod of the fleet stays. Disjoint on purpose: the eviction API refuses pods matched by more
// than one PDB.
// The disruption controller sizes a maxUnavailable budget from the Deployment's scale, not from the
// pods the PDB selects: desired healthy = replicas - maxUnavailable. With maxUnavailable = replicas - 1
// that is one, so every idle ready pod but one may go, however many pods are busy; and the budget
// depends on the scale alone, so call churn never rewrites it (ADR 0029). One replica: maxUnavailable
// 1, so a lone idle pod never blocks a drain. Without the operator's busy marks (callfleet render),
// every pod is under the idle budget and maxUnavailable 1 lets one go at a time.
import type { Chart } from 'cdk8s';
import { child } from '../children.ts';
import { BUSY_LABEL } from '../labels.ts';
import type { VoiceAgentModel } from './model.ts';

export function addPdbs(chart: Chart, m: VoiceAgentModel): void {
  const labels = m.labels('disruption-budget');
  child(chart, 'pdb', 'PodDisruptionBudget', {
    metadata: { name: m.names.pdb, labels },
    spec: {
      maxUnavailable: Math.max(1, (m.trackedReplicas ?? 0) - 1),
      selector: {
        matchLabels: m.selector,
        matchExpressions: [{ key: BUSY_LABEL, operator: 'NotIn', values: ['true'] }],
      },
    },
  });
  child(chart, 'pdb-busy', 'PodDisruptionBudget', {
    metadata: { name: m.names.busyPdb, labels },
    spec: { maxUnavailable: 0, selector: { matchLabels: { ...m.selector, [BUSY_LABEL]: 'true' } } },
  });
}
