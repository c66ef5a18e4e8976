// Two disjoint PDBs: idle pods may be evicted one at a time; busy pods (label set by the operator)
// never. Disjoint on purpose: the eviction API refuses pods matched by more than one PDB.
// A maxUnavailable budget is sized from the Deployment's replicas, not from the pods the PDB selects, so
// with busy pods about it would refuse every idle eviction: when the operator knows how many ready pods
// are idle, the idle budget is minAvailable = idle - 1 (one eviction at a time).
import type { Chart } from 'cdk8s';
import { child } from '../children.ts';
import { BUSY_LABEL } from '../labels.ts';
import type { VoiceAgentModel } from './model.ts';

export function addPdbs(chart: Chart, m: VoiceAgentModel): void {
  const labels = m.labels('disruption-budget');
  child(chart, 'pdb', 'PodDisruptionBudget', {
    metadata: { name: m.names.pdb, labels },
    spec: {
      ...(m.idleReadyPods === undefined
        ? { maxUnavailable: 1 }
        : { minAvailable: Math.max(0, m.idleReadyPods - 1) }),
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
