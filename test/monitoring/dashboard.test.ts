// The Grafana dashboard: cluster / namespace / VoiceAgent variables, the rows an on-call engineer needs
// (capacity, voice quality, errors, memory, hand-offs, rollouts), rollbacks as annotations, $__rate_interval
// in every rate, a description on every panel. (That its metrics exist: metric-names.test.ts; that its
// queries parse and run: prometheus.e2e.test.ts.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dashboardExprs, readDashboard } from './names.ts';

describe('Grafana dashboard', () => {
  const dashboard = readDashboard();

  it('has cluster, namespace and VoiceAgent variables, used by every gateway query', () => {
    const names = dashboard.templating.list.map((v) => v.name);
    for (const name of ['datasource', 'cluster', 'namespace', 'voiceagent'])
      assert.ok(names.includes(name), name);
    for (const panel of dashboard.panels)
      for (const t of panel.targets ?? []) {
        if (!/callfleet_(?!operator_)|callfleet:/.test(t.expr)) continue;
        assert.match(t.expr, /namespace=~"\$namespace"/, `${panel.title}: ${t.expr}`);
        assert.match(t.expr, /\$\{voiceagent:regex\}/, `${panel.title}: ${t.expr}`);
      }
  });

  it('every panel (and row) has a description', () => {
    for (const panel of dashboard.panels)
      assert.ok((panel.description ?? '').length > 20, `${panel.type} ${panel.title} has no description`);
  });

  it('every rate and increase uses $__rate_interval', () => {
    for (const expr of dashboardExprs())
      for (const m of expr.matchAll(/\b(rate|increase)\([^[]*\[([^\]]+)\]/g))
        assert.equal(m[2], '$__rate_interval', expr);
  });

  it('has the panels the issue asks for', () => {
    const titles = dashboard.panels.map((p) => p.title);
    for (const title of [
      'Active calls vs capacity',
      'Response time',
      'Time to first agent audio',
      'Barge-ins',
      'Silences',
      'Database up',
      'Hand-offs',
      'HTTP requests by route and code',
      'Webhook latency',
    ])
      assert.ok(titles.includes(title), title);
    const capacity = dashboard.panels.find((p) => p.title === 'Active calls vs capacity');
    assert.match(JSON.stringify(capacity?.targets), /callfleet_call_capacity/);
  });

  it('shows rollbacks as annotations', () => {
    const rollbacks = dashboard.annotations.list.find((a) => a.name === 'Rollbacks');
    assert.match(rollbacks?.expr ?? '', /callfleet_operator_rollbacks_total/);
  });
});
