// The shipped alerts, evaluated by a real Prometheus on real metrics: a real operator (leading through a
// Lease on the local control plane) and two real gateway processes are scraped every second; the chart's
// rules and a VoiceAgent's rendered rules run with time compressed 60x (minutes become seconds). Three
// incidents are staged and each alert must go inactive -> pending -> firing -> inactive (resolved):
//   - the operator is SIGKILLed (CallfleetOperatorAbsent), then started again;
//   - a gateway is SIGKILLed (CallfleetGatewayDown for that pod), then started again;
//   - a burst of requests with a wrong X-Twilio-Signature (CallfleetSignatureRejections), then it stops;
//   - a VoiceAgent that cannot become Ready (no controller-manager runs its Deployment) is reported by the
//     leading operator (CallfleetVoiceAgentNotReady), then deleted.
// Every alert state transition is printed as it happens.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { type Cluster, startCluster } from '../support/cluster.ts';
import {
  applyObjects,
  createNamespace,
  example,
  kubectlOk,
  waitForCrdsEstablished,
} from '../support/kube-helpers.ts';
import { sumMetric } from '../support/operator.ts';
import { freePort } from '../support/ports.ts';
import { type Managed, startProcess, waitFor } from '../support/processes.ts';
import { STREAM_KEY } from '../voice-gateway/helpers.ts';
import { dashboardExprs, voiceAgentRuleGroups } from './names.ts';
import {
  AlertWatcher,
  compressRules,
  type PrometheusServer,
  type RuleGroup,
  startPrometheus,
} from './prometheus-server.ts';

const root = new URL('../../', import.meta.url).pathname;
const cli = join(root, 'bin/callfleet.ts');

interface Gateway {
  pod: string;
  port: number;
  internalPort: number;
  /** The port that serves /metrics (the internal one when the gateway has it). */
  metricsPort?: number;
  process?: Managed;
}

describe('alerts on a real Prometheus [e2e]', { timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'callfleet-prometheus-e2e-'));
  let cluster: Cluster;
  let operator: Managed | undefined;
  let operatorPort = 0;
  const gateways: Gateway[] = [
    { pod: 'echo-1', port: 0, internalPort: 0 },
    { pod: 'echo-2', port: 0, internalPort: 0 },
  ];
  let prometheus: PrometheusServer;
  let watcher: AlertWatcher;
  /** When the system had started and no alert was active: the healthy baseline. */
  let healthySince = 0;

  const startOperatorProcess = async () => {
    operator = startProcess(
      'operator',
      process.execPath,
      [
        cli,
        'operator',
        `--kubeconfig=${cluster.kubeconfigPath}`,
        `--metrics-addr=127.0.0.1:${operatorPort}`,
        '--lease-namespace=default',
        '--call-poll=0',
      ],
      join(dir, 'operator.log'),
    );
    await waitFor(
      'operator leads',
      async () => {
        const text = await (await fetch(`http://127.0.0.1:${operatorPort}/metrics`)).text();
        return sumMetric(text, 'callfleet_operator_leader') === 1;
      },
      60_000,
      250,
    );
  };

  const startGateway = async (g: Gateway) => {
    const config = join(dir, 'gateway.json');
    g.process = startProcess(g.pod, process.execPath, [cli, 'gateway'], join(dir, `${g.pod}.log`), {
      env: {
        CALLFLEET_GATEWAY_CONFIG: config,
        TWILIO_AUTH_TOKEN: 'prometheus-e2e-token',
        CALLFLEET_STREAM_KEY: STREAM_KEY,
        PORT: String(g.port),
        CALLFLEET_INTERNAL_PORT: String(g.internalPort),
        HOST: '127.0.0.1',
        POD_NAME: g.pod,
        POD_NAMESPACE: 'voice',
        CALLFLEET_VOICEAGENT: 'echo',
      },
    });
    await waitFor(
      `${g.pod} /metrics`,
      async () => {
        for (const port of [g.internalPort, g.port]) {
          const ok = await fetch(`http://127.0.0.1:${port}/metrics`).then(
            (r) => r.ok,
            () => false,
          );
          if (ok) {
            g.metricsPort = port;
            return true;
          }
        }
        return false;
      },
      30_000,
      200,
    );
  };

  before(async () => {
    cluster = await startCluster({ controllers: false });
    await kubectlOk(cluster, ['apply', '--server-side', '-f', `${root}crds`]);
    await waitForCrdsEstablished(cluster, ['voiceagents.callfleet.io', 'memorystores.callfleet.io'], 30_000);
    operatorPort = await freePort();
    await startOperatorProcess();
    writeFileSync(join(dir, 'gateway.json'), JSON.stringify({ publicBaseUrl: 'https://calls.example.com' }));
    for (const g of gateways) {
      g.port = await freePort();
      g.internalPort = await freePort();
      await startGateway(g);
    }

    const chart = parse(readFileSync(join(root, 'charts/callfleet/files/prometheus-rules.yaml'), 'utf8')) as {
      groups: RuleGroup[];
    };
    const rules = compressRules([...chart.groups, ...voiceAgentRuleGroups()]);
    prometheus = await startPrometheus(join(dir, 'prometheus'), rules, [
      {
        job: 'callfleet-gateway',
        targets: gateways.map((g) => ({
          address: `127.0.0.1:${g.metricsPort}`,
          labels: { namespace: 'voice', service: 'echo-metrics', pod: g.pod },
        })),
      },
      {
        job: 'callfleet-operator',
        targets: [
          {
            address: `127.0.0.1:${operatorPort}`,
            labels: { namespace: 'callfleet-system', pod: 'callfleet-operator-0' },
          },
        ],
      },
    ]);
    watcher = new AlertWatcher(prometheus.url);
    watcher.start();
    // Every target scraped and the quiet alerts settled before the first incident.
    await waitFor(
      'all targets up',
      async () => {
        const body = (await (await fetch(`${prometheus.url}/api/v1/query?query=sum(up)`)).json()) as {
          data: { result: { value: [number, string] }[] };
        };
        return body.data.result[0]?.value[1] === '3';
      },
      30_000,
      250,
    );
    // On a loaded machine the first scrapes can come after the compressed `for:` of the absence rules:
    // what fired while the system was still starting must have resolved before the healthy baseline.
    await waitFor('no alert active after start-up', async () => watcher.active().length === 0, 60_000, 250);
    healthySince = watcher.now();
    await new Promise((r) => setTimeout(r, 5000));
  });

  after(async () => {
    watcher?.stop();
    await prometheus?.stop();
    await Promise.all(gateways.map((g) => g.process?.stop('SIGTERM', 5000)));
    await operator?.stop('SIGTERM', 10_000);
    await cluster?.stop();
    if (process.exitCode === undefined || process.exitCode === 0)
      rmSync(dir, { recursive: true, force: true });
    else console.log(`logs kept in ${dir}`);
  });

  it('a healthy system fires nothing', () => {
    const firing = watcher.transitions.filter((t) => t.to === 'firing' && t.at >= healthySince);
    assert.deepEqual(
      firing.map((t) => `${t.alert}{${t.labels}}`),
      [],
    );
  });

  it('operator down: CallfleetOperatorAbsent goes pending, fires, and resolves when it is back', async () => {
    const since = watcher.now();
    console.log(`[scenario] +${since.toFixed(1)}s SIGKILL the operator`);
    await operator?.stop('SIGKILL');
    await watcher.waitFor('CallfleetOperatorAbsent', 'firing', '', since, 60_000);
    // The no-leader alert could not have caught it: sum() over no series is empty, not < 1.
    assert.deepEqual(watcher.path('CallfleetOperatorNoLeader', '', since), []);
    console.log(`[scenario] +${watcher.now().toFixed(1)}s start the operator again`);
    await startOperatorProcess();
    await watcher.waitFor('CallfleetOperatorAbsent', 'inactive', '', since, 60_000);
    assert.deepEqual(watcher.path('CallfleetOperatorAbsent', '', since), [
      'inactive',
      'pending',
      'firing',
      'inactive',
    ]);
  });

  it('gateway killed: CallfleetGatewayDown for that pod goes pending, fires, and resolves', async () => {
    const since = watcher.now();
    const victim = gateways[1] as Gateway;
    console.log(`[scenario] +${since.toFixed(1)}s SIGKILL gateway ${victim.pod}`);
    await victim.process?.stop('SIGKILL');
    await watcher.waitFor('CallfleetGatewayDown', 'firing', `pod=${victim.pod}`, since, 60_000);
    console.log(`[scenario] +${watcher.now().toFixed(1)}s start ${victim.pod} again`);
    await startGateway(victim);
    await watcher.waitFor('CallfleetGatewayDown', 'inactive', `pod=${victim.pod}`, since, 60_000);
    assert.deepEqual(watcher.path('CallfleetGatewayDown', `pod=${victim.pod}`, since), [
      'inactive',
      'pending',
      'firing',
      'inactive',
    ]);
    // The other pod kept answering: not every gateway was down.
    assert.deepEqual(watcher.path('CallfleetNoGatewayUp', '', since), []);
    assert.deepEqual(watcher.path('CallfleetGatewayDown', 'pod=echo-1', since), []);
  });

  it('a rotated auth token: CallfleetSignatureRejections goes pending, fires, and resolves', async () => {
    const since = watcher.now();
    const target = gateways[0] as Gateway;
    console.log(`[scenario] +${since.toFixed(1)}s voice webhooks signed with a stale token, 5 per second`);
    let sending = true;
    let refused = 0;
    const burst = (async () => {
      while (sending) {
        const response = await fetch(`http://127.0.0.1:${target.port}/twilio/voice`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            'x-twilio-signature': 'c3RhbGUtdG9rZW4tc2lnbmF0dXJl',
          },
          body: 'CallSid=CA0000000000000000000000000000dead&From=%2B14155550100&To=%2B14155550199',
        });
        if (response.status === 403) refused++;
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    try {
      await watcher.waitFor('CallfleetSignatureRejections', 'firing', 'service=echo-metrics', since, 60_000);
    } finally {
      sending = false;
      await burst;
    }
    console.log(`[scenario] +${watcher.now().toFixed(1)}s the token is fixed (${refused} requests refused)`);
    await watcher.waitFor('CallfleetSignatureRejections', 'inactive', 'service=echo-metrics', since, 60_000);
    assert.deepEqual(watcher.path('CallfleetSignatureRejections', 'service=echo-metrics', since), [
      'inactive',
      'pending',
      'firing',
      'inactive',
    ]);
    assert.ok(refused > 10);
  });

  it('a VoiceAgent not Ready: CallfleetVoiceAgentNotReady goes pending, fires, and resolves when it is gone', async () => {
    const since = watcher.now();
    console.log(
      `[scenario] +${since.toFixed(1)}s create VoiceAgent voice/stuck (its Deployment never reports)`,
    );
    await createNamespace(cluster, 'voice');
    const va = example('examples/voiceagent-echo.yaml');
    await applyObjects(cluster, 'voice', [{ ...va, metadata: { name: 'stuck' } }]);
    await watcher.waitFor('CallfleetVoiceAgentNotReady', 'firing', 'resource_name=stuck', since, 90_000);
    console.log(`[scenario] +${watcher.now().toFixed(1)}s delete it`);
    await kubectlOk(cluster, ['delete', 'voiceagent', 'stuck', '-n', 'voice', '--wait=false']);
    await watcher.waitFor('CallfleetVoiceAgentNotReady', 'inactive', 'resource_name=stuck', since, 60_000);
    assert.deepEqual(watcher.path('CallfleetVoiceAgentNotReady', 'resource_name=stuck', since), [
      'inactive',
      'pending',
      'firing',
      'inactive',
    ]);
  });

  it('every rule evaluates without error, and every dashboard query runs', async () => {
    const rules = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    const all = rules.data.groups.flatMap((g) => g.rules);
    assert.ok(all.length >= 40, `${all.length} rules loaded`);
    assert.deepEqual(
      all.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`),
      [],
    );
    for (const expr of dashboardExprs()) {
      if (expr.startsWith('label_values(') || !expr) continue;
      const query = expr
        .replaceAll('$__rate_interval', '1m')
        .replaceAll(/\$\{voiceagent:regex\}/g, '.*')
        .replace(/\$(cluster|namespace)/g, '.*');
      const response = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(query)}`);
      const body = (await response.json()) as { status: string; error?: string };
      assert.equal(body.status, 'success', `${query}: ${body.error}`);
    }
  });

  it('prints every transition', () => {
    console.log('[alerts] all state transitions:');
    for (const t of watcher.transitions)
      console.log(`  +${t.at.toFixed(1)}s  ${t.alert}{${t.labels}}  ${t.from} -> ${t.to}`);
    assert.ok(watcher.transitions.length >= 12);
  });
});
