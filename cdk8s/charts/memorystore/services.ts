// A headless Service (the StatefulSet's stable network identity) and a client Service gateways dial.
import type { V1ServicePort } from '@kubernetes/client-node';
import type { Chart } from 'cdk8s';
import { child } from '../children.ts';
import { type MemoryStoreModel, POSTGRES_PORT } from './model.ts';

export function addServices(chart: Chart, m: MemoryStoreModel): void {
  const ports: V1ServicePort[] = [
    { name: 'postgres', port: POSTGRES_PORT, targetPort: 'postgres', protocol: 'TCP' },
  ];
  const labels = m.labels('database');
  child(chart, 'service-headless', 'Service', {
    metadata: { name: m.names.headlessService, labels },
    spec: { clusterIP: 'None', publishNotReadyAddresses: true, selector: m.selector, ports },
  });
  child(chart, 'service-client', 'Service', {
    metadata: { name: m.names.clientService, labels },
    spec: { type: 'ClusterIP', selector: m.selector, ports },
  });
}

/** One PostgreSQL pod holds every caller's memory: no voluntary eviction without an operator's decision. */
export function addPdb(chart: Chart, m: MemoryStoreModel): void {
  child(chart, 'pdb', 'PodDisruptionBudget', {
    metadata: { name: m.names.statefulSet, labels: m.labels('disruption-budget') },
    spec: { maxUnavailable: 0, selector: { matchLabels: m.selector } },
  });
}
