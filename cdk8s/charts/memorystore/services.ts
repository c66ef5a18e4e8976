// A headless Service (the StatefulSet's stable network identity) and a client Service gateways dial.
import { ApiObject, type Chart } from 'cdk8s';
import { type MemoryStoreModel, POSTGRES_PORT } from './model.ts';

export function addServices(chart: Chart, m: MemoryStoreModel): void {
  const ports = [{ name: 'postgres', port: POSTGRES_PORT, targetPort: 'postgres', protocol: 'TCP' }];
  new ApiObject(chart, 'service-headless', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: m.names.headlessService, labels: m.labels('database') },
    spec: { clusterIP: 'None', publishNotReadyAddresses: true, selector: m.selector, ports },
  });
  new ApiObject(chart, 'service-client', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: m.names.clientService, labels: m.labels('database') },
    spec: { type: 'ClusterIP', selector: m.selector, ports },
  });
}

/** One PostgreSQL pod holds every caller's memory: no voluntary eviction without an operator's decision. */
export function addPdb(chart: Chart, m: MemoryStoreModel): void {
  new ApiObject(chart, 'pdb', {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: m.names.statefulSet, labels: m.labels('disruption-budget') },
    spec: { maxUnavailable: 0, selector: { matchLabels: m.selector } },
  });
}
