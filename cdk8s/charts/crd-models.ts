// Models of the third-party custom resources the charts render, which @kubernetes/client-node does not
// ship: only the fields callfleet writes, named and typed as in each project's CRD (Prometheus Operator,
// KEDA, Gateway API, GKE, Envoy Gateway, CloudNativePG). Same shape as client-node's models, so
// `child()` checks them the same way (ADR 0026).
import type {
  V1LabelSelector,
  V1ObjectMeta,
  V1ResourceRequirements,
  V1SecretKeySelector,
  V1TopologySpreadConstraint,
  V2HorizontalPodAutoscalerBehavior,
} from '@kubernetes/client-node';

interface Resource<Spec> {
  apiVersion?: string;
  kind?: string;
  metadata?: V1ObjectMeta;
  spec?: Spec;
}

// Prometheus Operator (monitoring.coreos.com/v1).
export interface PrometheusRuleRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export type ServiceMonitor = Resource<{
  selector: V1LabelSelector;
  namespaceSelector?: { matchNames?: string[]; any?: boolean };
  endpoints: { port?: string; path?: string; interval?: string }[];
}>;
export type PrometheusRule = Resource<{ groups: { name: string; rules: PrometheusRuleRule[] }[] }>;
export type PodMonitor = Resource<{
  selector: V1LabelSelector;
  podMetricsEndpoints: { port?: string; path?: string; interval?: string }[];
}>;

// KEDA (keda.sh/v1alpha1).
export interface ScaledObjectTrigger {
  type: string;
  metricType?: 'Utilization' | 'AverageValue' | 'Value';
  metadata: Record<string, string>;
  authenticationRef?: { name: string; kind?: string };
}
export type ScaledObject = Resource<{
  scaleTargetRef: { apiVersion?: string; kind?: string; name: string };
  minReplicaCount?: number;
  maxReplicaCount?: number;
  pollingInterval?: number;
  advanced?: {
    horizontalPodAutoscalerConfig?: {
      name?: string;
      behavior?: V2HorizontalPodAutoscalerBehavior;
    };
  };
  triggers: ScaledObjectTrigger[];
}>;

// Gateway API (gateway.networking.k8s.io/v1).
interface BackendRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
}
export type HTTPRoute = Resource<{
  parentRefs: { group?: string; kind?: string; name: string; namespace?: string; sectionName?: string }[];
  hostnames?: string[];
  rules: {
    name?: string;
    matches?: { path?: { type: 'Exact' | 'PathPrefix' | 'RegularExpression'; value: string } }[];
    backendRefs?: BackendRef[];
    timeouts?: { request?: string; backendRequest?: string };
  }[];
}>;

// GKE (networking.gke.io/v1, cloud.google.com/v1).
export type GCPBackendPolicy = Resource<{
  targetRef: { group: string; kind: string; name: string };
  default: { timeoutSec?: number; connectionDraining?: { drainingTimeoutSec?: number } };
}>;
export type BackendConfig = Resource<{
  timeoutSec?: number;
  connectionDraining?: { drainingTimeoutSec?: number };
  healthCheck?: {
    type?: 'HTTP' | 'HTTPS' | 'HTTP2';
    requestPath?: string;
    port?: number;
    checkIntervalSec?: number;
    timeoutSec?: number;
    healthyThreshold?: number;
    unhealthyThreshold?: number;
  };
}>;
export type ManagedCertificate = Resource<{ domains: string[] }>;

// Envoy Gateway (gateway.envoyproxy.io/v1alpha1).
export type BackendTrafficPolicy = Resource<{
  targetRefs: { group: string; kind: string; name: string }[];
  timeout?: { tcp?: { connectTimeout?: string }; http?: { connectionIdleTimeout?: string } };
  healthCheck?: {
    passive?: {
      consecutive5XxErrors?: number;
      interval?: string;
      baseEjectionTime?: string;
      maxEjectionPercent?: number;
    };
  };
}>;

// CloudNativePG (postgresql.cnpg.io/v1).
type SecretKey = Pick<V1SecretKeySelector, 'name' | 'key'>;
export interface BarmanObjectStore {
  destinationPath: string;
  serverName?: string;
  endpointURL?: string;
  endpointCA?: SecretKey;
  s3Credentials: { accessKeyId: SecretKey; secretAccessKey: SecretKey; region?: SecretKey };
  wal?: { compression?: string; maxParallel?: number };
  data?: { compression?: string };
}
export interface CnpgClusterSpec {
  instances: number;
  imageName?: string;
  primaryUpdateStrategy?: 'unsupervised' | 'supervised';
  postgresql?: { parameters?: Record<string, string>; pg_hba?: string[] };
  bootstrap:
    | { initdb: { database: string; owner: string } }
    | {
        recovery: {
          source: string;
          database: string;
          owner: string;
          recoveryTarget?: { targetTime?: string };
        };
      };
  externalClusters?: { name: string; barmanObjectStore: BarmanObjectStore }[];
  storage: { size: string; storageClass?: string };
  resources?: V1ResourceRequirements;
  affinity?: { enablePodAntiAffinity?: boolean; topologyKey?: string; podAntiAffinityType?: string };
  topologySpreadConstraints?: V1TopologySpreadConstraint[];
  backup?: { retentionPolicy?: string; barmanObjectStore: BarmanObjectStore };
}
export type CnpgCluster = Resource<CnpgClusterSpec>;
export type ScheduledBackup = Resource<{
  schedule: string;
  immediate?: boolean;
  backupOwnerReference?: 'none' | 'self' | 'cluster';
  method?: 'barmanObjectStore' | 'volumeSnapshot' | 'plugin';
  cluster: { name: string };
}>;
