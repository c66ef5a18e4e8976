// The alert rules are valid Prometheus rules, fire on the series they should (promtool test rules), and link
// a runbook section that exists in docs/runbooks/alerts.md.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { toolPath } from '../cluster/tools.ts';
import { type AlertRule, alertRules, voiceAgentAlertRules, voiceAgentRuleGroups } from './names.ts';

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
    assertFiringAndQuiet(alertRules(), 'rules.test.yaml');
  });

  it("a VoiceAgent's rendered rules pass promtool check and test (capacity, gateways down, SLO burn rates)", () => {
    const dir = mkdtempSync(join(tmpdir(), 'callfleet-va-rules-'));
    try {
      writeFileSync(join(dir, 'voiceagent-rules.yaml'), stringify({ groups: voiceAgentRuleGroups() }));
      copyFileSync(new URL('voiceagent-rules.test.yaml', import.meta.url), join(dir, 'test.yaml'));
      assert.match(promtool('check', 'rules', join(dir, 'voiceagent-rules.yaml')), /SUCCESS/);
      assert.match(promtool('test', 'rules', join(dir, 'test.yaml')), /SUCCESS/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assertFiringAndQuiet(voiceAgentAlertRules(), 'voiceagent-rules.test.yaml');
  });

  it('alert names are unique across the chart and a VoiceAgent (no duplicate pages)', () => {
    const names = [...alertRules(), ...voiceAgentAlertRules()].map((r) => r.alert);
    assert.deepEqual(
      names.filter((n, i) => names.indexOf(n) !== i),
      [],
    );
  });

  it('the SLO thresholds and objective of a VoiceAgent go into its burn-rate rules', () => {
    const rules = voiceAgentRuleGroups({
      slo: { responseSeconds: 1, firstAudioSeconds: 0.75, objective: 0.99 },
    }).flatMap((g) => g.rules);
    const record = rules.find((r) => r.record === 'callfleet:response_latency_slow:ratio_rate1h');
    assert.match(record?.expr ?? '', /le=~"1\(\\\\\.0\)\?"/);
    const greeting = rules.find((r) => r.record === 'callfleet:first_audio_slow:ratio_rate5m');
    assert.match(greeting?.expr ?? '', /le=~"0\.75\(/);
    const page = rules.find((r) => r.alert === 'CallfleetResponseTimeBudgetBurn');
    // 14.4x and 6x a 1% budget.
    assert.match(page?.expr ?? '', /ratio_rate1h\{[^}]*\} > 0\.144 and/);
    assert.match(page?.expr ?? '', /ratio_rate6h\{[^}]*\} > 0\.06 and/);
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
      'CallfleetOperatorAbsent',
      'CallfleetVoiceAgentRolledBack',
      'CallfleetMemoryStoreNotReady',
      'CallfleetMemoryDown',
      'CallfleetSignatureRejections',
      'CallfleetBackupFailed',
      'CallfleetGatewayOOMKilled',
      'CallfleetGatewayRestarts',
      'CallfleetHTTP5xxRate',
      'CallfleetWebhookSlow',
    ])
      assert.ok(names.includes(name), name);
  });

  it('every alert links an existing section of docs/runbooks/alerts.md', () => {
    const all = [...alertRules(), ...voiceAgentAlertRules()];
    const runbook = readFileSync(new URL('docs/runbooks/alerts.md', `file://${root}`), 'utf8');
    const anchors = new Set(
      [...runbook.matchAll(/^#{2,3} (.+)$/gm)].map((m) =>
        (m[1] ?? '')
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replaceAll(' ', '-'),
      ),
    );
    for (const rule of all) {
      const url = rule.annotations?.runbook_url ?? '';
      assert.match(url, /\/docs\/runbooks\/alerts\.md#/, `${rule.alert} has no runbook_url`);
      assert.ok(anchors.has(url.split('#')[1] ?? ''), `${rule.alert}: no section #${url.split('#')[1]}`);
    }
  });
});

/** Each alert has a promtool case where it fires (exp_labels) and one where it stays quiet (exp_alerts: []). */
function assertFiringAndQuiet(rules: AlertRule[], file: string): void {
  const tested = readFileSync(new URL(file, import.meta.url), 'utf8');
  for (const rule of rules) {
    assert.match(
      tested,
      new RegExp(`alertname: ${rule.alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels`),
      `${rule.alert} never fires in ${file}`,
    );
    assert.match(
      tested,
      new RegExp(`alertname: ${rule.alert}, exp_alerts: \\[\\] \\}`),
      `${rule.alert} is never shown quiet in ${file}`,
    );
  }
}
