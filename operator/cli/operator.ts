// `callfleet operator`: leader election, the controller, and /healthz, /readyz, /metrics.
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import pino from 'pino';
import { loggerOptions } from '../../voice-gateway/log.ts';
import { offsetClock } from '../campaign/clock.ts';
import { Controller } from '../controller.ts';
import { loadKubeAccess } from '../kube/access.ts';
import { KubeRest } from '../kube/rest.ts';
import { createOperatorMetrics, resetLeaderMetrics } from '../metrics.ts';
import { LeaderElector } from '../runtime/leader-election.ts';
import { podLeaderLabel } from '../runtime/leader-label.ts';
import { parseCommandLine } from './args.ts';
import { parseGatewayDefaults } from './gateway-defaults.ts';

const usage = `usage: callfleet operator [options]
  --kubeconfig PATH        kubeconfig (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)
  --namespace NS[,NS...]   watch only these namespaces (default: all namespaces)
  --metrics-addr HOST:PORT health and metrics listener (default 0.0.0.0:8081)
  --leader-elect BOOL      compete for the callfleet-operator Lease (default true)
  --lease-namespace NS     namespace of the Lease (default $POD_NAMESPACE or default)
  --concurrency N          reconciles running at once (default 8)
  --resync SECONDS         period over which every cached object is reconciled again, spread evenly and
                           read from the cache (default 300)
  --call-poll SECONDS      how often each gateway pod's live calls are polled; 0 = off (default 5, or 30
                           with --notice-url: the poll is then only the backstop for missed notices)
  --call-status-refresh SECONDS|off
                           how often a change of a VoiceAgent's status call counts alone (activeCalls,
                           busyReplicas, drainingReplicas) is written: 0 = at once, N = at most every N
                           seconds, off = never on its own, only with the next status change of another
                           kind (default off with --notice-url: call churn then writes pod marks only;
                           else 0). Live counts: the pods' marks, callfleet status, the metrics
  --notice-addr HOST:PORT  listen for gateways' busy/idle/draining notices (ADR 0021; default off)
  --notice-url URL         the URL gateways send notices to (rendered into them as
                           CALLFLEET_OPERATOR_NOTICE_URL), e.g. http://callfleet-notices.callfleet-system.svc:8082/notices
                           In a pod (POD_NAME, POD_NAMESPACE) the leader labels its own pod
                           callfleet.io/operator-leader=true, which that Service selects (ADR 0027)
  --operator-namespace NS  namespace admitted to the gateways' internal port (status, metrics)
                           by their NetworkPolicy (default $POD_NAMESPACE, else callfleet-system)
  --voiceagent-monitoring-labels K=V[,K=V...]
                           labels on every VoiceAgent's ServiceMonitor and PrometheusRule, e.g.
                           release=kube-prometheus-stack (a VoiceAgent's spec.monitoring.labels win)
  --lease-name NAME        name of the leader-election Lease (default callfleet-operator; the chart sets one per release)
  --gateway-image REF      gateway image when a VoiceAgent sets no spec.image (default ghcr.io/callfleet/callfleet:<version>)
  --gateway-image-pull-policy POLICY   Always, IfNotPresent or Never (default IfNotPresent)
  --gateway-image-pull-secrets A,B     pull Secrets (in each VoiceAgent's namespace) when spec.imagePullSecrets is unset
  --campaign-clock-file PATH   testing: add the milliseconds in PATH to the campaign dialers' clock
`;

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine(
    args,
    {
      options: {
        kubeconfig: { type: 'string' },
        namespace: { type: 'string' },
        'metrics-addr': { type: 'string', default: '0.0.0.0:8081' },
        'leader-elect': { type: 'string', default: 'true' },
        'lease-namespace': { type: 'string' },
        concurrency: { type: 'string', default: '8' },
        resync: { type: 'string', default: '300' },
        'call-poll': { type: 'string' },
        'notice-addr': { type: 'string' },
        'call-status-refresh': { type: 'string' },
        'notice-url': { type: 'string' },
        'operator-namespace': { type: 'string' },
        'voiceagent-monitoring-labels': { type: 'string', default: '' },
        'lease-name': { type: 'string', default: 'callfleet-operator' },
        'gateway-image': { type: 'string' },
        'gateway-image-pull-policy': { type: 'string' },
        'gateway-image-pull-secrets': { type: 'string' },
        'campaign-clock-file': { type: 'string' },
        help: { type: 'boolean' },
      },
    },
    { usage },
  );
  if (typeof parsed === 'number') return parsed;
  const values: Record<string, string | boolean | undefined> = parsed.values;

  const monitoringLabels = parseLabels(String(values['voiceagent-monitoring-labels']));
  if (typeof monitoringLabels === 'string') {
    process.stderr.write(`--voiceagent-monitoring-labels: ${monitoringLabels}\n`);
    return 2;
  }
  const gatewayDefaults = parseGatewayDefaults({
    image: values['gateway-image'] as string | undefined,
    pullPolicy: values['gateway-image-pull-policy'] as string | undefined,
    pullSecrets: values['gateway-image-pull-secrets'] as string | undefined,
  });
  if (!gatewayDefaults.ok) {
    process.stderr.write(`callfleet operator: ${gatewayDefaults.error}\n`);
    return 2;
  }
  for (const flag of ['call-poll', 'call-status-refresh'] as const) {
    const value = values[flag];
    if (value !== undefined && value !== 'off' && !(Number(value) >= 0)) {
      process.stderr.write(`callfleet operator: --${flag}: "${value}" is not a number of seconds\n`);
      return 2;
    }
  }
  if (!(Number(values.resync) >= 1)) {
    process.stderr.write(`callfleet operator: --resync: "${values.resync}" is not a number of seconds ≥ 1\n`);
    return 2;
  }
  const leaseName = String(values['lease-name']);
  if (
    !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(leaseName) ||
    leaseName.length > 253
  ) {
    process.stderr.write(`callfleet operator: --lease-name: "${leaseName}" is not an object name\n`);
    return 2;
  }

  const log = pino(loggerOptions('operator', process.env.LOG_LEVEL ?? 'info'));
  const kc = await loadKubeAccess(values.kubeconfig as string | undefined);

  // The pod name where the chart sets it (readable in the Lease), else host and pid.
  const identity = process.env.POD_NAME ?? `${hostname()}-${process.pid}`;
  const metrics = createOperatorMetrics();
  const newController = () =>
    new Controller({
      kc,
      log,
      metrics,
      identity,
      namespaces:
        typeof values.namespace === 'string'
          ? values.namespace
              .split(',')
              .map((n) => n.trim())
              .filter(Boolean)
          : undefined,
      concurrency: Number(values.concurrency),
      resyncMs: Number(values.resync) * 1000,
      callPollIntervalMs: Number(values['call-poll'] ?? (values['notice-url'] ? 30 : 5)) * 1000,
      callStatusRefreshMs: callStatusRefreshMs(
        values['call-status-refresh'] as string | undefined,
        values['notice-url'] !== undefined,
      ),
      link: {
        noticeAddr: values['notice-addr'] as string | undefined,
        noticeUrl: values['notice-url'] as string | undefined,
      },
      operatorNamespace:
        (typeof values['operator-namespace'] === 'string' ? values['operator-namespace'] : undefined) ??
        process.env.POD_NAMESPACE,
      monitoringLabels,
      gatewayDefaults: gatewayDefaults.value,
      ...(typeof values['campaign-clock-file'] === 'string'
        ? { campaignClock: offsetClock(values['campaign-clock-file']) }
        : {}),
    });

  // A replica that loses the lease stops reconciling at once and competes again; a fresh controller
  // (new caches) starts when it leads again. In a pod, the leader's Pod carries the leader label the
  // chart's notices Service selects (ADR 0027): labelled once it serves, unlabelled before it stops.
  const leaderLabel = podLeaderLabel(new KubeRest(kc, { timeoutMs: 10_000 }), log);
  let controller: Controller | undefined;
  let transition = leaderLabel ? leaderLabel.unmark() : Promise.resolve();
  const startLeading = () => {
    metrics.leader.set(1);
    transition = transition.then(async () => {
      await leaderLabel?.takeOver();
      controller = newController();
      await controller.start();
      await leaderLabel?.mark();
    });
    transition.catch((error) => {
      log.fatal({ err: error }, 'controller failed to start');
      process.exit(1);
    });
  };
  const stopLeading = () => {
    metrics.leader.set(0);
    resetLeaderMetrics(metrics);
    transition = transition.then(async () => {
      await leaderLabel?.unmark();
      await controller?.stop();
      controller = undefined;
      // A reconcile that was finishing while the controller stopped may have set them again.
      resetLeaderMetrics(metrics);
    });
  };

  const [host = '0.0.0.0', port = '8081'] = String(values['metrics-addr']).split(/:(?=\d+$)/);
  const server = createServer(async (req, res) => {
    if (req.url === '/healthz') return void res.writeHead(200).end('ok');
    if (req.url === '/readyz') {
      const ready = !controller || controller.synced;
      return void res.writeHead(ready ? 200 : 503).end(ready ? 'ok' : 'caches not synced');
    }
    if (req.url === '/metrics') {
      res.writeHead(200, { 'Content-Type': metrics.registry.contentType });
      return void res.end(await metrics.registry.metrics());
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(Number(port), host, resolve));
  log.info({ identity, metricsAddr: `${host}:${port}` }, 'operator started');

  let elector: LeaderElector | undefined;
  if (values['leader-elect'] !== 'false') {
    const leaseRest = new KubeRest(kc, { onWrite: () => metrics.leaseWrites.inc() });
    elector = new LeaderElector(
      leaseRest,
      {
        namespace:
          (values['lease-namespace'] as string | undefined) ?? process.env.POD_NAMESPACE ?? 'default',
        name: leaseName,
        identity,
        onStartedLeading: startLeading,
        onStoppedLeading: stopLeading,
      },
      log,
    );
    elector.start();
  } else {
    startLeading();
  }

  return new Promise<number>((resolve) => {
    const shutdown = async (signal: string) => {
      log.info({ signal }, 'shutting down');
      // The notices Service stops routing here before the Lease goes to a standby.
      await leaderLabel?.unmark();
      await elector?.stop();
      stopLeading();
      await transition;
      server.close();
      resolve(0);
    };
    process.once('SIGTERM', () => void shutdown('SIGTERM'));
    process.once('SIGINT', () => void shutdown('SIGINT'));
  });
}

/** --call-status-refresh: undefined = at every change, 0 = off (with other reconciles only), else ms. */
function callStatusRefreshMs(flag: string | undefined, notices: boolean): number | undefined {
  const value = flag ?? (notices ? 'off' : '0');
  if (value === 'off') return 0;
  const ms = Number(value) * 1000;
  return ms > 0 ? ms : undefined;
}

const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/** `k=v,k2=v2` → labels, or the error naming the bad pair. */
export function parseLabels(text: string): Record<string, string> | string {
  const labels: Record<string, string> = {};
  for (const pair of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [key = '', value, ...rest] = pair.split('=');
    if (value === undefined || rest.length) return `${pair}: expected key=value`;
    if (!LABEL_KEY.test(key)) return `${pair}: ${key} is not a valid label key`;
    if (!LABEL_VALUE.test(value)) return `${pair}: ${value} is not a valid label value`;
    labels[key] = value;
  }
  return labels;
}
