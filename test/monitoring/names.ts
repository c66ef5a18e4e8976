// Metric names used by the alert rules and the Grafana dashboard shipped in the chart.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

const files = new URL('../../charts/callfleet/files/', import.meta.url);

export interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  annotations?: Record<string, string>;
}

export function alertRules(): AlertRule[] {
  const { groups } = parse(readFileSync(new URL('prometheus-rules.yaml', files), 'utf8')) as {
    groups: { rules: AlertRule[] }[];
  };
  return groups.flatMap((g) => g.rules);
}

export function dashboardExprs(): string[] {
  const dashboard = JSON.parse(readFileSync(new URL('dashboard.json', files), 'utf8')) as {
    panels: { targets?: { expr: string }[] }[];
    templating: { list: { query?: string | { query: string } }[] };
  };
  const panels = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  const variables = dashboard.templating.list.map((v) =>
    typeof v.query === 'string' ? v.query : (v.query?.query ?? ''),
  );
  return [...panels, ...variables];
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
