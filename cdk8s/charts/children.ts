// Every child the charts build as a plain ApiObject goes through `child()`: the kind names its apiVersion
// and its model (@kubernetes/client-node's for built-in kinds, ./crd-models.ts for third-party CRDs), so
// the compiler checks each literal field by field, and the JSON is the literal as written (ADR 0026).
// Children built with cdk8s-plus (Deployment, gateway Services, ConfigMap, Secrets) are typed by it.
import type {
  V1ConfigMap,
  V1CronJob,
  V1Ingress,
  V1NetworkPolicy,
  V1NetworkPolicyIngressRule,
  V1NetworkPolicyPeer,
  V1NetworkPolicySpec,
  V1PodDisruptionBudget,
  V1Service,
  V1StatefulSet,
  V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node';
import { ApiObject } from 'cdk8s';
import type { Construct } from 'constructs';
import type * as crd from './crd-models.ts';

/**
 * client-node's model calls the JSON field `from` `_from` (its generator avoids the word) and maps the name
 * when it serialises; a literal here is the JSON itself, so the ingress rule is its wire form.
 */
export type NetworkPolicyIngressRule = Omit<V1NetworkPolicyIngressRule, '_from'> & {
  from?: V1NetworkPolicyPeer[];
};
type NetworkPolicy = Omit<V1NetworkPolicy, 'spec'> & {
  spec?: Omit<V1NetworkPolicySpec, 'ingress'> & { ingress?: NetworkPolicyIngressRule[] };
};

interface Models {
  ConfigMap: V1ConfigMap;
  Service: V1Service;
  StatefulSet: V1StatefulSet;
  CronJob: V1CronJob;
  PodDisruptionBudget: V1PodDisruptionBudget;
  HorizontalPodAutoscaler: V2HorizontalPodAutoscaler;
  NetworkPolicy: NetworkPolicy;
  Ingress: V1Ingress;
  HTTPRoute: crd.HTTPRoute;
  GCPBackendPolicy: crd.GCPBackendPolicy;
  BackendConfig: crd.BackendConfig;
  ManagedCertificate: crd.ManagedCertificate;
  BackendTrafficPolicy: crd.BackendTrafficPolicy;
  ScaledObject: crd.ScaledObject;
  ServiceMonitor: crd.ServiceMonitor;
  PrometheusRule: crd.PrometheusRule;
  PodMonitor: crd.PodMonitor;
  Cluster: crd.CnpgCluster;
  ScheduledBackup: crd.ScheduledBackup;
}

export type ChildKind = keyof Models;

/** The one apiVersion each kind is rendered with. */
export const API_VERSIONS: Record<ChildKind, string> = {
  ConfigMap: 'v1',
  Service: 'v1',
  StatefulSet: 'apps/v1',
  CronJob: 'batch/v1',
  PodDisruptionBudget: 'policy/v1',
  HorizontalPodAutoscaler: 'autoscaling/v2',
  NetworkPolicy: 'networking.k8s.io/v1',
  Ingress: 'networking.k8s.io/v1',
  HTTPRoute: 'gateway.networking.k8s.io/v1',
  GCPBackendPolicy: 'networking.gke.io/v1',
  BackendConfig: 'cloud.google.com/v1',
  ManagedCertificate: 'networking.gke.io/v1',
  BackendTrafficPolicy: 'gateway.envoyproxy.io/v1alpha1',
  ScaledObject: 'keda.sh/v1alpha1',
  ServiceMonitor: 'monitoring.coreos.com/v1',
  PrometheusRule: 'monitoring.coreos.com/v1',
  PodMonitor: 'monitoring.coreos.com/v1',
  Cluster: 'postgresql.cnpg.io/v1',
  ScheduledBackup: 'postgresql.cnpg.io/v1',
};

/** What the charts set in a child's metadata (owner references are added by synth). */
export interface ChildMetadata {
  name: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A child of kind K as written: its model without apiVersion, kind and status. */
export type ChildBody<K extends ChildKind> = Omit<
  Models[K],
  'apiVersion' | 'kind' | 'metadata' | 'status'
> & {
  metadata: ChildMetadata;
};

export function child<K extends ChildKind>(
  scope: Construct,
  id: string,
  kind: K,
  body: ChildBody<K>,
): ApiObject {
  return new ApiObject(scope, id, { apiVersion: API_VERSIONS[kind], kind, ...body });
}

/**
 * A passthrough field of the spec (free-form, `x-kubernetes-preserve-unknown-fields`, e.g. resources or
 * an egress rule) where a model is expected: the API server validates it against that model.
 */
export const passthroughAs = <T>(value: Record<string, unknown>): T => value as T;
