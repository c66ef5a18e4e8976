// Metric names used by the alert rules and the Grafana dashboard shipped in the chart.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { parseVoiceAgent } from '../../cdk8s/api/v1alpha1/index.ts';
import { renderVoiceAgent } from '../../cdk8s/charts/index.ts';
import type { Rule } from '../../cdk8s/charts/voiceagent/monitoring.ts';
import { minimalVoiceAgent } from '../cdk8s/charts/fixtures.ts';

const files = new URL('../../charts/callfleet/files/', import.meta.url);

export type AlertRule = Rule;

export function alertRules(): AlertRule[] {
  const { groups } = parse(readFileSync(new URL('prometheus-rules.yaml', files), 'utf8')) as {
    groups: { rules: AlertRule[] }[];
  };
  return groups.flatMap((g) => g.rules);
}

export function dashboardExprs(): string[] {
  const dashboard = readDashboard();
  const panels = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  const variables = dashboard.templating.list.map((v) =>
    typeof v.query === 'string' ? v.query : (v.query?.query ?? ''),
  );
  const annotations = dashboard.annotations.list.map((a) => a.expr ?? '');
  return [...panels, ...variables, ...annotations];
}

export interface Dashboard {
  description?: string;
  panels: { type: string; title: string; description?: string; targets?: { expr: string }[] }[];
  templating: { list: { name: string; query?: string | { query: string } }[] };
  annotations: { list: { name: string; expr?: string }[] };
}

export function readDashboard(): Dashboard {
  return JSON.parse(readFileSync(new URL('dashboard.json', files), 'utf8')) as Dashboard;
}

/** Every `callfleet_*` metric name an expression selects. */
export function metricNames(expr: string): string[] {
  return [...new Set([...expr.matchAll(/\b(callfleet_[a-zA-Z0-9_]+)/g)].map((m) => m[1] as string))];
}

/** Series names a Prometheus text exposition offers, from its TYPE lines (present even before any sample). */
export function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name = '', type] = match;
    names.add(name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
  }
  return names;
}

/** The PrometheusRule groups a VoiceAgent `echo` in namespace `voice` renders (spec merged over a minimal one). */
export function voiceAgentRuleGroups(
  spec: Record<string, unknown> = {},
): { name: string; rules: AlertRule[] }[] {
  const parsed = parseVoiceAgent(
    minimalVoiceAgent('echo', 'voice', {
      monitoring: { serviceMonitor: true, prometheusRule: true },
      ...spec,
    }),
  );
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  const rendered = renderVoiceAgent(parsed.value);
  if (!rendered.ok) throw new Error(rendered.error.message);
  const rule = rendered.objects.find((o) => o.kind === 'PrometheusRule') as unknown as {
    spec: { groups: { name: string; rules: AlertRule[] }[] };
  };
  return rule.spec.groups;
}

export function voiceAgentAlertRules(spec: Record<string, unknown> = {}): AlertRule[] {
  return voiceAgentRuleGroups(spec)
    .flatMap((g) => g.rules)
    .filter((r) => r.alert);
}

/** Every `callfleet_*` metric a Markdown file names in backticks (recording rules `callfleet:` excluded). */
export function runbookMetricNames(markdown: string): string[] {
  const names = new Set<string>();
  for (const code of markdown.matchAll(/`([^`]+)`/g))
    for (const n of metricNames(code[1] ?? '')) names.add(n);
  return [...names];
}
