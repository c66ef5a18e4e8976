// REST paths of the kinds the operator reads and writes.
import type { KubernetesObject } from '@kubernetes/client-node';

export interface ResourceType {
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

const table: ResourceType[] = [
  { apiVersion: 'callfleet.io/v1alpha1', kind: 'VoiceAgent', plural: 'voiceagents', namespaced: true },
  { apiVersion: 'callfleet.io/v1alpha1', kind: 'MemoryStore', plural: 'memorystores', namespaced: true },
  { apiVersion: 'callfleet.io/v1alpha1', kind: 'CallCampaign', plural: 'callcampaigns', namespaced: true },
  { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
  { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true },
  { apiVersion: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  { apiVersion: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', namespaced: true },
  { apiVersion: 'v1', kind: 'PersistentVolumeClaim', plural: 'persistentvolumeclaims', namespaced: true },
  { apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespaced: true },
  { apiVersion: 'v1', kind: 'Node', plural: 'nodes', namespaced: false },
  { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'ReplicaSet', plural: 'replicasets', namespaced: true },
  { apiVersion: 'batch/v1', kind: 'CronJob', plural: 'cronjobs', namespaced: true },
  {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    plural: 'horizontalpodautoscalers',
    namespaced: true,
  },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets', namespaced: true },
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', plural: 'ingresses', namespaced: true },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', plural: 'networkpolicies', namespaced: true },
  { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', plural: 'leases', namespaced: true },
  { apiVersion: 'events.k8s.io/v1', kind: 'Event', plural: 'events', namespaced: true },
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', plural: 'httproutes', namespaced: true },
  {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    plural: 'servicemonitors',
    namespaced: true,
  },
  {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    plural: 'prometheusrules',
    namespaced: true,
  },
  { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', plural: 'scaledobjects', namespaced: true },
  { apiVersion: 'cloud.google.com/v1', kind: 'BackendConfig', plural: 'backendconfigs', namespaced: true },
  {
    apiVersion: 'networking.gke.io/v1',
    kind: 'ManagedCertificate',
    plural: 'managedcertificates',
    namespaced: true,
  },
  {
    apiVersion: 'networking.gke.io/v1',
    kind: 'GCPBackendPolicy',
    plural: 'gcpbackendpolicies',
    namespaced: true,
  },
  {
    apiVersion: 'gateway.envoyproxy.io/v1alpha1',
    kind: 'BackendTrafficPolicy',
    plural: 'backendtrafficpolicies',
    namespaced: true,
  },
  { apiVersion: 'monitoring.coreos.com/v1', kind: 'PodMonitor', plural: 'podmonitors', namespaced: true },
  { apiVersion: 'postgresql.cnpg.io/v1', kind: 'Cluster', plural: 'clusters', namespaced: true },
  {
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'ScheduledBackup',
    plural: 'scheduledbackups',
    namespaced: true,
  },
];

const byKind = new Map(table.map((r) => [`${r.apiVersion}/${r.kind}`, r]));

export function resourceFor(apiVersion: string, kind: string): ResourceType {
  const resource = byKind.get(`${apiVersion}/${kind}`);
  if (!resource)
    throw new Error(`unknown kind ${kind} (${apiVersion}): add it to operator/kube/resources.ts`);
  return resource;
}

export function collectionPath(resource: ResourceType, namespace?: string): string {
  const base = resource.apiVersion.includes('/')
    ? `/apis/${resource.apiVersion}`
    : `/api/${resource.apiVersion}`;
  return resource.namespaced && namespace
    ? `${base}/namespaces/${namespace}/${resource.plural}`
    : `${base}/${resource.plural}`;
}

export function objectPath(object: KubernetesObject): string {
  const resource = resourceFor(object.apiVersion ?? '', object.kind ?? '');
  return `${collectionPath(resource, object.metadata?.namespace)}/${encodeURIComponent(object.metadata?.name ?? '')}`;
}

export function objectKey(object: KubernetesObject): string {
  const ns = object.metadata?.namespace;
  return ns ? `${ns}/${object.metadata?.name}` : `${object.metadata?.name}`;
}
