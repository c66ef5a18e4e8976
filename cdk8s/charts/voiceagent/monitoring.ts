// Prometheus Operator objects, when asked: a ServiceMonitor on the headless metrics Service (every
// pod, serving or not) and a PrometheusRule with this VoiceAgent's alerts: capacity, gateways down,
// streams dropping, backend errors, and its voice-quality SLOs as multi-window multi-burn-rate alerts
// (Google SRE workbook, "Alerting on SLOs": page at 14.4x over 1h/5m or 6x over 6h/30m, ticket at 3x
// over 1d/2h or 1x over 3d/6h).
import type { Chart } from 'cdk8s';
import { child } from '../children.ts';
import type { PrometheusRuleRule } from '../crd-models.ts';
import { INTERNAL_PORT_NAME, type VoiceAgentModel } from './model.ts';

export const RUNBOOK = 'https://github.com/callfleet/callfleet/blob/main/docs/runbooks/alerts.md';

export type Rule = PrometheusRuleRule;

/** The windows of the burn-rate alerts; each gets a recording rule per SLI. */
const WINDOWS = ['5m', '30m', '1h', '2h', '6h', '1d', '3d'] as const;
type Window = (typeof WINDOWS)[number];

/** [long window, short window, burn rate] pairs: page, then ticket (SRE workbook, table 5-8). */
const PAGE: [Window, Window, number][] = [
  ['1h', '5m', 14.4],
  ['6h', '30m', 6],
];
const TICKET: [Window, Window, number][] = [
  ['1d', '2h', 3],
  ['3d', '6h', 1],
];

interface Sli {
  /** Alert name stem, e.g. CallfleetResponseTime. */
  stem: string;
  /** Histogram base name. */
  metric: string;
  /** Recording rule stem: callfleet:<stem>_slow:ratio_rate<window>. */
  record: string;
  seconds: number;
  what: string;
}

const num = (n: number) => String(Number(n.toPrecision(6)));

function slis(m: VoiceAgentModel): Sli[] {
  return [
    {
      stem: 'CallfleetResponseTime',
      metric: 'callfleet_response_latency_seconds',
      record: 'callfleet:response_latency_slow',
      seconds: m.spec.slo.responseSeconds,
      what: 'agent responses',
    },
    {
      stem: 'CallfleetFirstAudio',
      metric: 'callfleet_first_audio_seconds',
      record: 'callfleet:first_audio_slow',
      seconds: m.spec.slo.firstAudioSeconds,
      what: 'greetings (first agent audio)',
    },
  ];
}

function sloRules(m: VoiceAgentModel, sel: string, labels: Record<string, string>): Rule[] {
  const budget = Number((1 - m.spec.slo.objective).toFixed(6));
  const rules: Rule[] = [];
  for (const sli of slis(m)) {
    // Prometheus 3 stores le as a float ("3.0"); promtool tests and older servers write "3".
    const le = `le=~"${num(sli.seconds)}(\\\\.0)?"`;
    for (const w of WINDOWS) {
      const total = `sum by (namespace, service) (rate(${sli.metric}_count{${sel}}[${w}]))`;
      const fast = `sum by (namespace, service) (rate(${sli.metric}_bucket{${sel},${le}}[${w}]))`;
      rules.push({ record: `${sli.record}:ratio_rate${w}`, expr: `1 - ${fast} / ${total}` });
    }
    const burn = (pairs: [Window, Window, number][]) =>
      pairs
        .map(
          ([long, short, rate]) =>
            `(${sli.record}:ratio_rate${long}{${sel}} > ${num(rate * budget)} and ${sli.record}:ratio_rate${short}{${sel}} > ${num(rate * budget)})`,
        )
        .join('\nor\n');
    const objective = `${num(m.spec.slo.objective * 100)}% of ${sli.what} within ${num(sli.seconds)} s`;
    rules.push(
      {
        alert: `${sli.stem}BudgetBurn`,
        expr: burn(PAGE),
        for: '2m',
        labels: { ...labels, severity: 'critical' },
        annotations: {
          summary: `VoiceAgent ${m.owner.name}: callers wait too long; the SLO "${objective}" burns its monthly error budget in under 5 days.`,
          description: `{{ $value | humanizePercentage }} of ${sli.what} took longer than ${num(sli.seconds)} s (budget ${num(budget * 100)}%).`,
          runbook_url: `${RUNBOOK}#${sli.stem.toLowerCase()}budgetburn`,
        },
      },
      {
        alert: `${sli.stem}BudgetBurnSlow`,
        expr: burn(TICKET),
        for: '15m',
        labels: { ...labels, severity: 'warning' },
        annotations: {
          summary: `VoiceAgent ${m.owner.name}: the SLO "${objective}" is using its error budget faster than it lasts.`,
          description: `{{ $value | humanizePercentage }} of ${sli.what} took longer than ${num(sli.seconds)} s (budget ${num(budget * 100)}%).`,
          runbook_url: `${RUNBOOK}#${sli.stem.toLowerCase()}budgetburnslow`,
        },
      },
    );
  }
  return rules;
}

export function alertRules(m: VoiceAgentModel): Rule[] {
  const sel = `namespace="${m.namespace}",service="${m.names.metricsService}"`;
  const capacity = m.spec.calls.maxConcurrentPerPod;
  const labels = { severity: 'warning', voiceagent: m.owner.name };
  const runbook = (alert: string) => `${RUNBOOK}#${alert.toLowerCase()}`;
  return [
    {
      alert: 'CallfleetFleetNearCapacity',
      expr: `sum(callfleet_active_calls{${sel}}) / (count(up{${sel}} == 1) * ${capacity}) > 0.9`,
      for: '5m',
      labels,
      annotations: {
        summary: `VoiceAgent ${m.owner.name}: more than 90% of call capacity in use for 5 minutes.`,
        runbook_url: runbook('CallfleetFleetNearCapacity'),
      },
    },
    {
      alert: 'CallfleetStreamsDropping',
      expr: `sum(rate(callfleet_websocket_drops_total{${sel}}[5m])) > 0`,
      for: '10m',
      labels,
      annotations: {
        summary: `VoiceAgent ${m.owner.name}: media-stream WebSockets keep being dropped (calls cut) for 10 minutes.`,
        runbook_url: runbook('CallfleetStreamsDropping'),
      },
    },
    {
      alert: 'CallfleetBackendErrors',
      expr: `sum(rate(callfleet_backend_errors_total{${sel}}[5m])) > 0.1`,
      for: '10m',
      labels,
      annotations: {
        summary: `VoiceAgent ${m.owner.name}: the agent backend is failing; callers get the fallback.`,
        runbook_url: runbook('CallfleetBackendErrors'),
      },
    },
    {
      alert: 'CallfleetGatewayDown',
      expr: `up{${sel}} == 0`,
      for: '1m',
      labels,
      annotations: {
        summary: `VoiceAgent ${m.owner.name}: gateway pod {{ $labels.pod }} does not answer scrapes; its calls are likely cut.`,
        runbook_url: runbook('CallfleetGatewayDown'),
      },
    },
    {
      alert: 'CallfleetNoGatewayUp',
      expr: `absent(up{${sel}} == 1)`,
      for: '5m',
      // absent() of a comparison carries no labels: name the fleet for routing.
      labels: { ...labels, severity: 'critical', namespace: m.namespace, service: m.names.metricsService },
      annotations: {
        summary: `VoiceAgent ${m.owner.name}: no gateway pod is being scraped.`,
        runbook_url: runbook('CallfleetNoGatewayUp'),
      },
    },
    ...sloRules(m, sel, labels),
  ];
}

export function addMonitoring(chart: Chart, m: VoiceAgentModel): void {
  const mon = m.spec.monitoring;
  // Chart-wide labels (operator flag), then the VoiceAgent's own, never over the callfleet labels.
  const labels = { ...m.monitoringLabels, ...mon.labels, ...m.labels('monitoring') };
  if (mon.serviceMonitor) {
    child(chart, 'servicemonitor', 'ServiceMonitor', {
      metadata: { name: m.names.serviceMonitor, labels },
      spec: {
        selector: { matchLabels: m.labels('metrics') },
        namespaceSelector: { matchNames: [m.namespace] },
        endpoints: [{ port: INTERNAL_PORT_NAME, path: '/metrics', interval: '15s' }],
      },
    });
  }
  if (mon.prometheusRule) {
    child(chart, 'prometheusrule', 'PrometheusRule', {
      metadata: { name: m.names.prometheusRule, labels },
      spec: { groups: [{ name: `callfleet-${m.owner.name}`, rules: alertRules(m) }] },
    });
  }
}
