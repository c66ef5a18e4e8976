// Scrapes the real /metrics of a running operator and a running gateway and checks that every metric name the
// alert rules and the Grafana dashboard use exists there (a renamed metric would silently blank a panel or
// mute an alert). Labelled counters print HELP/TYPE before their first sample, so no call is needed.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../support/ports.ts';
import { type Managed, startProcess, waitFor } from '../support/processes.ts';
import { alertRules, dashboardExprs, exposedNames, metricNames } from './names.ts';

const root = new URL('../../', import.meta.url).pathname;
const cli = join(root, 'bin/callfleet.ts');

describe('metric names used by alerts and the dashboard', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'callfleet-metric-names-'));
  const processes: Managed[] = [];
  let exposed = new Set<string>();

  before(async () => {
    const gatewayPort = await freePort();
    const config = join(dir, 'gateway.json');
    writeFileSync(config, JSON.stringify({ publicBaseUrl: 'https://calls.example.com' }));
    processes.push(
      startProcess('metrics-gateway', process.execPath, [cli, 'gateway'], join(dir, 'gateway.log'), {
        env: {
          CALLFLEET_GATEWAY_CONFIG: config,
          TWILIO_AUTH_TOKEN: 'test-token',
          CALLFLEET_STREAM_KEY: 'test-stream-key-0123456789abcdefghijklmnop',
          PORT: String(gatewayPort),
          HOST: '127.0.0.1',
        },
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
    const texts = await Promise.all([
      scrape(`http://127.0.0.1:${gatewayPort}/metrics`),
      scrape(`http://127.0.0.1:${operatorPort}/metrics`),
    ]);
    exposed = new Set(texts.flatMap((t) => [...exposedNames(t)]));
  });

  after(async () => {
    await Promise.all(processes.map((p) => p.stop('SIGTERM', 10_000)));
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

  it('every metric in the alert rules exists', () => {
    const used = alertRules().flatMap((r) => metricNames(r.expr));
    assert.ok(used.length >= 8);
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
