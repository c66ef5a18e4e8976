// The kinds the operator reads and writes: their REST paths, and which of them it renders as children.
// A new child kind is registered here (one row with `child`): the controller watches every child kind the
// cluster serves, and the reconcilers find its cache under `apiVersion/kind`.
import type { KubernetesObject } from '@kubernetes/client-node';

export interface ResourceType {
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  /** Rendered by the operator: informed (managed objects only) when the cluster serves the apiVersion. */
  child: boolean;
}

/** `child`: a kind the operator renders; `cluster`: cluster-scoped; `read`: namespaced, read or written only. */
type Role = 'child' | 'cluster' | 'read';

// Children in the order their informers start (as the controller has always started them).
const rows: [apiVersion: string, kind: string, plural: string, role: Role][] = [
  ['callfleet.io/v1alpha1', 'VoiceAgent', 'voiceagents', 'read'],
  ['callfleet.io/v1alpha1', 'MemoryStore', 'memorystores', 'read'],
  ['callfleet.io/v1alpha1', 'CallCampaign', 'callcampaigns', 'read'],
  ['v1', 'ConfigMap', 'configmaps', 'child'],
  ['v1', 'Secret', 'secrets', 'child'],
  ['v1', 'Service', 'services', 'child'],
  ['v1', 'ServiceAccount', 'serviceaccounts', 'child'],
  ['apps/v1', 'Deployment', 'deployments', 'child'],
  ['apps/v1', 'StatefulSet', 'statefulsets', 'child'],
  ['batch/v1', 'CronJob', 'cronjobs', 'child'],
  ['autoscaling/v2', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers', 'child'],
  ['policy/v1', 'PodDisruptionBudget', 'poddisruptionbudgets', 'child'],
  ['networking.k8s.io/v1', 'Ingress', 'ingresses', 'child'],
  ['networking.k8s.io/v1', 'NetworkPolicy', 'networkpolicies', 'child'],
  ['gateway.networking.k8s.io/v1', 'HTTPRoute', 'httproutes', 'child'],
  ['monitoring.coreos.com/v1', 'ServiceMonitor', 'servicemonitors', 'child'],
  ['monitoring.coreos.com/v1', 'PrometheusRule', 'prometheusrules', 'child'],
  ['keda.sh/v1alpha1', 'ScaledObject', 'scaledobjects', 'child'],
  ['cloud.google.com/v1', 'BackendConfig', 'backendconfigs', 'child'],
  ['networking.gke.io/v1', 'GCPBackendPolicy', 'gcpbackendpolicies', 'child'],
  ['networking.gke.io/v1', 'ManagedCertificate', 'managedcertificates', 'child'],
  ['gateway.envoyproxy.io/v1alpha1', 'BackendTrafficPolicy', 'backendtrafficpolicies', 'child'],
  ['v1', 'PersistentVolumeClaim', 'persistentvolumeclaims', 'child'],
  ['postgresql.cnpg.io/v1', 'Cluster', 'clusters', 'child'],
  ['postgresql.cnpg.io/v1', 'ScheduledBackup', 'scheduledbackups', 'child'],
  ['monitoring.coreos.com/v1', 'PodMonitor', 'podmonitors', 'child'],
  ['v1', 'Pod', 'pods', 'read'],
  ['v1', 'Node', 'nodes', 'cluster'],
  ['apps/v1', 'ReplicaSet', 'replicasets', 'read'],
  ['coordination.k8s.io/v1', 'Lease', 'leases', 'read'],
  ['events.k8s.io/v1', 'Event', 'events', 'read'],
];

const table: ResourceType[] = rows.map(([apiVersion, kind, plural, role]) => ({
  apiVersion,
  kind,
  plural,
  namespaced: role !== 'cluster',
  child: role === 'child',
}));

const byKind = new Map(table.map((r) => [`${r.apiVersion}/${r.kind}`, r]));

/** The kinds the operator renders as children, in the order their informers start. */
export function childResources(): ResourceType[] {
  return table.filter((r) => r.child);
}

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
