// Prometheus Operator objects, when asked: a ServiceMonitor on the headless metrics Service (every
// pod, serving or not) and a PrometheusRule with the fleet alerts.
import { ApiObject, type Chart } from 'cdk8s';
import { INTERNAL_PORT_NAME, type VoiceAgentModel } from './model.ts';

export function alertRules(m: VoiceAgentModel) {
  const sel = `namespace="${m.namespace}",service="${m.names.metricsService}"`;
  const capacity = m.spec.calls.maxConcurrentPerPod;
  const labels = { severity: 'warning', voiceagent: m.owner.name };
  return [
    {
      alert: 'CallfleetFleetNearCapacity',
      expr: `sum(callfleet_active_calls{${sel}}) / (count(up{${sel}} == 1) * ${capacity}) > 0.9`,
      for: '5m',
      labels,
      annotations: {
        summary: `VoiceAgent ${m.owner.name}: more than 90% of call capacity in use for 5 minutes.`,
      },
    },
    {
      alert: 'CallfleetWebSocketDrops',
      expr: `sum(rate(callfleet_websocket_drops_total{${sel}}[5m])) > 0`,
      for: '10m',
      labels,
      annotations: {
        summary: `VoiceAgent ${m.owner.name}: media-stream WebSockets are being dropped (calls cut).`,
      },
    },
    {
      alert: 'CallfleetBackendErrors',
      expr: `sum(rate(callfleet_backend_errors_total{${sel}}[5m])) > 0.1`,
      for: '10m',
      labels,
      annotations: {
        summary: `VoiceAgent ${m.owner.name}: the agent backend is failing; callers get the fallback.`,
      },
    },
    {
      alert: 'CallfleetNoGatewayUp',
      expr: `absent(up{${sel}} == 1)`,
      for: '5m',
      labels: { ...labels, severity: 'critical' },
      annotations: { summary: `VoiceAgent ${m.owner.name}: no gateway pod is being scraped.` },
    },
  ];
}

export function addMonitoring(chart: Chart, m: VoiceAgentModel): void {
  const mon = m.spec.monitoring;
  if (mon.serviceMonitor) {
    new ApiObject(chart, 'servicemonitor', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name: m.names.serviceMonitor, labels: m.labels('monitoring') },
      spec: {
        selector: { matchLabels: m.labels('metrics') },
        namespaceSelector: { matchNames: [m.namespace] },
        endpoints: [{ port: INTERNAL_PORT_NAME, path: '/metrics', interval: '15s' }],
      },
    });
  }
  if (mon.prometheusRule) {
    new ApiObject(chart, 'prometheusrule', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: { name: m.names.prometheusRule, labels: m.labels('monitoring') },
      spec: { groups: [{ name: `callfleet-${m.owner.name}`, rules: alertRules(m) }] },
    });
  }
}
