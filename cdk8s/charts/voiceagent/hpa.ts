// Autoscaling of VoiceAgent.spec.replicas through its scale subresource: an autoscaling/v2 HPA, or a
// KEDA ScaledObject. Neither touches the Deployment: the operator lowers it only by idle pods.
// cdk8s-plus's HorizontalPodAutoscaler needs an IScalable construct in the same chart, so ApiObject here.
import { ApiObject, type Chart } from 'cdk8s';
import { API_VERSION } from '../../api/v1alpha1/index.ts';
import type { VoiceAgentModel } from './model.ts';

export const ACTIVE_CALLS_METRIC = 'callfleet_active_calls';

export function behavior() {
  return {
    scaleUp: {
      stabilizationWindowSeconds: 60,
      selectPolicy: 'Max',
      policies: [{ type: 'Pods', value: 2, periodSeconds: 60 }],
    },
    scaleDown: {
      stabilizationWindowSeconds: 300,
      selectPolicy: 'Max',
      policies: [{ type: 'Pods', value: 1, periodSeconds: 120 }],
    },
  };
}

function scaleTargetRef(m: VoiceAgentModel) {
  return { apiVersion: API_VERSION, kind: 'VoiceAgent', name: m.owner.name };
}

export function prometheusAddress(m: VoiceAgentModel): string {
  return (
    m.spec.autoscaling.prometheus?.serverAddress ??
    `http://prometheus-operated.${m.spec.monitoring.prometheusNamespace ?? 'monitoring'}.svc:9090`
  );
}

/** The KEDA prometheus trigger: address, query, and the auth / TLS settings of spec.autoscaling.prometheus. */
function prometheusTrigger(m: VoiceAgentModel, threshold: number) {
  const p = m.spec.autoscaling.prometheus;
  const metadata: Record<string, string> = {
    serverAddress: prometheusAddress(m),
    query: activeCallsQuery(m),
    threshold: String(threshold),
  };
  if (p?.authModes) metadata.authModes = p.authModes;
  if (p?.awsRegion) metadata.awsRegion = p.awsRegion;
  if (p?.unsafeSsl) metadata.unsafeSsl = 'true';
  return {
    type: 'prometheus',
    metricType: 'AverageValue',
    metadata,
    ...(p?.authenticationRef
      ? { authenticationRef: { name: p.authenticationRef.name, kind: p.authenticationRef.kind } }
      : {}),
  };
}

export function activeCallsQuery(m: VoiceAgentModel): string {
  return `sum(${ACTIVE_CALLS_METRIC}{namespace="${m.namespace}",service="${m.names.metricsService}"})`;
}

export function addAutoscaler(chart: Chart, m: VoiceAgentModel): void {
  const a = m.spec.autoscaling;
  if (!a.enabled) return;
  if (a.engine === 'keda') {
    new ApiObject(chart, 'scaledobject', {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name: m.names.autoscaler, labels: m.labels('autoscaler') },
      spec: {
        scaleTargetRef: scaleTargetRef(m),
        minReplicaCount: a.minReplicas,
        maxReplicaCount: a.maxReplicas,
        pollingInterval: 15,
        advanced: { horizontalPodAutoscalerConfig: { name: m.names.autoscaler, behavior: behavior() } },
        triggers: [
          { type: 'cpu', metricType: 'Utilization', metadata: { value: String(a.targetCPUUtilization) } },
          prometheusTrigger(
            m,
            a.targetActiveCallsPerPod ?? Math.max(1, Math.floor(m.spec.calls.maxConcurrentPerPod * 0.75)),
          ),
        ],
      },
    });
    return;
  }
  const metrics: unknown[] = [
    {
      type: 'Resource',
      resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: a.targetCPUUtilization } },
    },
  ];
  if (a.targetActiveCallsPerPod !== undefined) {
    metrics.push({
      type: 'Pods',
      pods: {
        metric: { name: ACTIVE_CALLS_METRIC },
        target: { type: 'AverageValue', averageValue: String(a.targetActiveCallsPerPod) },
      },
    });
  }
  new ApiObject(chart, 'hpa', {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: m.names.autoscaler, labels: m.labels('autoscaler') },
    spec: {
      scaleTargetRef: scaleTargetRef(m),
      minReplicas: a.minReplicas,
      maxReplicas: a.maxReplicas,
      metrics,
      behavior: behavior(),
    },
  });
}
