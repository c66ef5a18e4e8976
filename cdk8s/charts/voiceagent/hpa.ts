// Autoscaling of VoiceAgent.spec.replicas through its scale subresource: an autoscaling/v2 HPA, or a
// KEDA ScaledObject. Neither touches the Deployment: the operator lowers it only by idle pods.
// cdk8s-plus's HorizontalPodAutoscaler needs an IScalable construct in the same chart, so a plain child here.
import type {
  V2HorizontalPodAutoscalerBehavior,
  V2HPAScalingRules,
  V2MetricSpec,
} from '@kubernetes/client-node';
import type { Chart } from 'cdk8s';
import { API_VERSION } from '../../api/v1alpha1/index.ts';
import { child } from '../children.ts';
import type { ScaledObjectTrigger } from '../crd-models.ts';
import type { VoiceAgentModel } from './model.ts';

export const ACTIVE_CALLS_METRIC = 'callfleet_active_calls';

/** At most `pods` pods per `periodSeconds`, after a stabilization window. */
const podsPerPeriod = (windowSeconds: number, pods: number, periodSeconds: number): V2HPAScalingRules => ({
  stabilizationWindowSeconds: windowSeconds,
  selectPolicy: 'Max',
  policies: [{ type: 'Pods', value: pods, periodSeconds }],
});

/** Up by two pods a minute; down by one pod every two minutes, after five quiet minutes. */
export function behavior(): V2HorizontalPodAutoscalerBehavior {
  return { scaleUp: podsPerPeriod(60, 2, 60), scaleDown: podsPerPeriod(300, 1, 120) };
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
function prometheusTrigger(m: VoiceAgentModel, threshold: number): ScaledObjectTrigger {
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
  const metadata = { name: m.names.autoscaler, labels: m.labels('autoscaler') };
  if (a.engine === 'keda') {
    child(chart, 'scaledobject', 'ScaledObject', {
      metadata,
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
  const metrics: V2MetricSpec[] = [
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
  child(chart, 'hpa', 'HorizontalPodAutoscaler', {
    metadata,
    spec: {
      scaleTargetRef: scaleTargetRef(m),
      minReplicas: a.minReplicas,
      maxReplicas: a.maxReplicas,
      metrics,
      behavior: behavior(),
    },
  });
}
