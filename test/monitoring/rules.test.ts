// The alert rules are valid Prometheus rules, fire on the series they should (promtool test rules), and link
// a runbook section that exists in docs/runbooks/alerts.md.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { toolPath } from '../cluster/tools.ts';
import { alertRules } from './names.ts';

const root = new URL('../../', import.meta.url).pathname;
const promtool = (...args: string[]) =>
  execFileSync(toolPath('promtool'), args, {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });

describe('alert rules', () => {
  it('promtool check rules passes', () => {
    assert.match(promtool('check', 'rules', 'charts/callfleet/files/prometheus-rules.yaml'), /SUCCESS/);
  });

  it('promtool test rules: every alert fires on its series and a healthy fleet fires nothing', () => {
    assert.match(promtool('test', 'rules', 'test/monitoring/rules.test.yaml'), /SUCCESS/);
    const tested = readFileSync(new URL('rules.test.yaml', import.meta.url), 'utf8');
    for (const rule of alertRules())
      assert.match(
        tested,
        new RegExp(`alertname: ${rule.alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels`),
        `${rule.alert} never fires in a test`,
      );
  });

  it('has the alerts the issue asks for', () => {
    const names = alertRules().map((r) => r.alert);
    for (const name of [
      'CallfleetFirstAudioSlow',
      'CallfleetCallFailureRateHigh',
      'CallfleetGatewayMemoryHigh',
      'CallfleetBackendCircuitOpen',
      'CallfleetWebSocketDrops',
      'CallfleetOperatorReconcileErrors',
      'CallfleetVoiceAgentNotReady',
    ])
      assert.ok(names.includes(name), name);
  });

  it('every alert links an existing section of docs/runbooks/alerts.md', () => {
    const runbook = readFileSync(new URL('docs/runbooks/alerts.md', `file://${root}`), 'utf8');
    const anchors = new Set(
      [...runbook.matchAll(/^#{2,3} (.+)$/gm)].map((m) =>
        (m[1] ?? '')
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replaceAll(' ', '-'),
      ),
    );
    for (const rule of alertRules()) {
      const url = rule.annotations?.runbook_url ?? '';
      assert.match(url, /\/docs\/runbooks\/alerts\.md#/, `${rule.alert} has no runbook_url`);
      assert.ok(anchors.has(url.split('#')[1] ?? ''), `${rule.alert}: no section #${url.split('#')[1]}`);
    }
  });
});
