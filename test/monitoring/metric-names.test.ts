// Scrapes the real /metrics of a running operator and a running gateway (with caller memory on a real
// PostgreSQL, so the memory metrics are there) and checks that every callfleet_* metric name the alert rules
// (chart-wide and a VoiceAgent's), the runbook and the Grafana dashboard use exists there (a renamed metric
// would silently blank a panel or mute an alert). Labelled counters print HELP/TYPE before their first
// sample, so no call is needed. kube-state-metrics series (kube_*) are not ours and not checked here.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../support/ports.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { type Managed, startProcess, waitFor } from '../support/processes.ts';
import { KEY_SPEC } from '../voice-gateway/memory/harness.ts';
import {
  alertRules,
  dashboardExprs,
  exposedNames,
  metricNames,
  runbookMetricNames,
  voiceAgentAlertRules,
  voiceAgentRuleGroups,
} from './names.ts';

const root = new URL('../../', import.meta.url).pathname;
const cli = join(root, 'bin/callfleet.ts');

describe('metric names used by alerts and the dashboard', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'callfleet-metric-names-'));
  const processes: Managed[] = [];
  let exposed = new Set<string>();
  let db: TestPostgres | undefined;

  before(async () => {
    db = await startPostgres();
    const gatewayPort = await freePort();
    const internalPort = await freePort();
    const config = join(dir, 'gateway.json');
    writeFileSync(
      config,
      JSON.stringify({ publicBaseUrl: 'https://calls.example.com', memory: { enabled: true } }),
    );
    const env = {
      CALLFLEET_GATEWAY_CONFIG: config,
      TWILIO_AUTH_TOKEN: 'test-token',
      CALLFLEET_STREAM_KEY: 'test-stream-key-0123456789abcdefghijklmnop',
      PORT: String(gatewayPort),
      CALLFLEET_INTERNAL_PORT: String(internalPort),
      HOST: '127.0.0.1',
      CALLFLEET_MEMORY_URL: db.url,
      CALLFLEET_ENCRYPTION_KEY: KEY_SPEC,
    };
    processes.push(
      startProcess('metrics-gateway', process.execPath, [cli, 'gateway'], join(dir, 'gateway.log'), {
        env,
      }),
    );
    const operatorPort = await freePort();
    const kubeconfig = join(dir, 'kubeconfig');
    // /metrics does not need an API server: the process starts its listener before leader election.
    writeFileSync(
      kubeconfig,
      'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n',
    );
    processes.push(
      startProcess(
        'metrics-operator',
        process.execPath,
        [
          cli,
          'operator',
          `--kubeconfig=${kubeconfig}`,
          `--metrics-addr=127.0.0.1:${operatorPort}`,
          '--lease-namespace=default',
        ],
        join(dir, 'operator.log'),
      ),
    );
    const scrape = async (url: string) => {
      let text = '';
      await waitFor(
        url,
        async () => {
          const response = await fetch(url);
          text = await response.text();
          return response.ok;
        },
        30_000,
      );
      return text;
    };
    const gatewayMetrics = async () => {
      // The gateway's metrics door is its internal port (rule 10).
      const response = await fetch(`http://127.0.0.1:${internalPort}/metrics`);
      if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
      return response.text();
    };
    let gatewayText = '';
    await waitFor(
      'gateway /metrics with callfleet_memory_up',
      async () => {
        gatewayText = await gatewayMetrics().catch(() => '');
        return gatewayText.includes('callfleet_memory_up 1');
      },
      60_000,
    );
    const texts = await Promise.all([
      Promise.resolve(gatewayText),
      scrape(`http://127.0.0.1:${operatorPort}/metrics`),
    ]);
    exposed = new Set(texts.flatMap((t) => [...exposedNames(t)]));
  });

  after(async () => {
    await Promise.all(processes.map((p) => p.stop('SIGTERM', 10_000)));
    await db?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the scrapes expose gateway and operator metrics', () => {
    assert.ok(exposed.has('callfleet_active_calls'));
    assert.ok(
      exposed.has('callfleet_calls_total'),
      'a labelled counter without samples still has its TYPE line',
    );
    assert.ok(exposed.has('callfleet_operator_reconciles_total'));
  });

  it('every metric in the alert rules (chart-wide and per VoiceAgent, recording rules too) exists', () => {
    const perVoiceAgent = voiceAgentRuleGroups().flatMap((g) => g.rules);
    const used = [...alertRules(), ...perVoiceAgent].flatMap((r) => metricNames(r.expr));
    assert.ok(used.length >= 20);
    assert.ok(used.includes('callfleet_memory_up') && used.includes('callfleet_http_requests_total'));
    assert.ok(voiceAgentAlertRules().length >= 9);
    assert.deepEqual(
      used.filter((name) => !exposed.has(name)),
      [],
    );
  });

  it('every metric the runbook names exists', () => {
    const runbook = readFileSync(join(root, 'docs/runbooks/alerts.md'), 'utf8');
    const used = runbookMetricNames(runbook);
    assert.ok(used.length >= 15);
    assert.deepEqual(
      used.filter((name) => !exposed.has(name)),
      [],
    );
  });

  it('every metric in the Grafana dashboard exists', () => {
    const used = dashboardExprs().flatMap(metricNames);
    assert.ok(used.length >= 15);
    assert.deepEqual([...new Set(used.filter((name) => !exposed.has(name)))], []);
  });
});
