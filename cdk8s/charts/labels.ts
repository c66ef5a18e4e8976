// Labels, names and owner references shared by every child object (names fixed by ARCHITECTURE.md).
import { API_VERSION } from '../api/v1alpha1/common.ts';
export const PART_OF = 'callfleet';
export const MANAGED_BY = 'callfleet-operator';
export const VOICEAGENT_LABEL = 'callfleet.io/voiceagent';
export const MEMORYSTORE_LABEL = 'callfleet.io/memorystore';
/** Set to "false" by the operator to take a pod out of the Services' endpoints (cordoned node). */
export const SERVING_LABEL = 'callfleet.io/serving';
/** Set to "true" by the operator on pods that carry live calls. */
export const BUSY_LABEL = 'callfleet.io/busy';
export const CONFIG_CHECKSUM_ANNOTATION = 'callfleet.io/config-checksum';
export const CREATE_ONLY_ANNOTATION = 'callfleet.io/create-only';
export const STICKINESS_ANNOTATION = 'callfleet.io/stickiness';

/** app.kubernetes.io/name of the gateway and of the MemoryStore's objects. */
export const GATEWAY_APP = 'voice-gateway';
export const MEMORYSTORE_APP = 'callfleet-memorystore';

export type Labels = Record<string, string>;

export interface Owner {
  apiVersion: string;
  kind: 'VoiceAgent' | 'MemoryStore';
  name: string;
  namespace: string;
  uid?: string;
}

/** The owner reference data of a custom resource (uid absent when rendered from a file). */
export function ownerOf(
  kind: Owner['kind'],
  metadata: { name?: string; namespace?: string; uid?: unknown },
): Owner {
  return {
    apiVersion: API_VERSION,
    kind,
    name: metadata.name ?? '',
    namespace: metadata.namespace ?? 'default',
    uid: typeof metadata.uid === 'string' && metadata.uid ? metadata.uid : undefined,
  };
}

/** What every render model starts with: the owner, its namespace, and the labels of its children. */
export interface OwnerModel {
  owner: Owner;
  namespace: string;
  labels(component: string): Labels;
}

export function ownerModel(kind: Owner['kind'], metadata: Parameters<typeof ownerOf>[1]): OwnerModel {
  const owner = ownerOf(kind, metadata);
  return { owner, namespace: owner.namespace, labels: (component) => childLabels(owner, component) };
}

/** The labels every child carries; never `app.kubernetes.io/instance` (Argo CD tracking would prune). */
export function childLabels(owner: Owner, component: string): Labels {
  const ownerLabel = owner.kind === 'VoiceAgent' ? VOICEAGENT_LABEL : MEMORYSTORE_LABEL;
  return {
    'app.kubernetes.io/name': owner.kind === 'VoiceAgent' ? GATEWAY_APP : MEMORYSTORE_APP,
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': PART_OF,
    'app.kubernetes.io/managed-by': MANAGED_BY,
    [ownerLabel]: owner.name,
  };
}

/** Immutable Deployment selector of a VoiceAgent's gateway pods. */
export function gatewaySelector(vaName: string): Labels {
  return {
    'app.kubernetes.io/name': GATEWAY_APP,
    'app.kubernetes.io/component': 'gateway',
    [VOICEAGENT_LABEL]: vaName,
  };
}

/** Immutable StatefulSet selector of a MemoryStore's PostgreSQL pods. */
export function postgresSelector(msName: string): Labels {
  return {
    'app.kubernetes.io/name': MEMORYSTORE_APP,
    'app.kubernetes.io/component': 'database',
    [MEMORYSTORE_LABEL]: msName,
  };
}

export function ownerReference(owner: Owner) {
  if (!owner.uid) return undefined;
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.name,
    uid: owner.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Names of the MemoryStore's Secrets and Services (the VoiceAgent renderer needs some of them). */
export const memoryStoreNames = (name: string) => ({
  credentials: `${name}-postgres-credentials`,
  connection: `${name}-connection`,
  encryption: `${name}-encryption`,
  statefulSet: `${name}-postgres`,
  clientService: `${name}-postgres`,
  headlessService: `${name}-postgres-headless`,
  backupPvc: `${name}-backups`,
  backupCronJob: `${name}-backup`,
  /** postgres engine: CA certificate, server certificate and key (create-only). */
  tls: `${name}-postgres-tls`,
  /** postgres engine: pg_hba.conf (TLS only). */
  postgresConfig: `${name}-postgres-config`,
  /** cloudnative-pg engine: the Cluster; CloudNativePG names its Secrets <cluster>-app and <cluster>-ca. */
  cnpgCluster: `${name}-db`,
});

export const voiceAgentNames = (name: string) => ({
  deployment: name,
  serviceAccount: `${name}-gateway`,
  configMap: `${name}-gateway-config`,
  streamKey: `${name}-stream-key`,
  webhooksService: `${name}-webhooks`,
  streamsService: `${name}-streams`,
  metricsService: `${name}-metrics`,
  autoscaler: name,
  pdb: name,
  busyPdb: `${name}-busy`,
  ingress: name,
  webhooksIngress: `${name}-webhooks`,
  streamsIngress: `${name}-streams`,
  backendConfig: name,
  httpRoute: name,
  gatewayPolicy: name,
  networkPolicy: name,
  serviceMonitor: name,
  prometheusRule: name,
});
