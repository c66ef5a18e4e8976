// Benchmark (issue 5): N VoiceAgents created at once → time until all are Ready, API writes and
// reconciles per VoiceAgent and the operator's peak RSS, beside the API server's raw throughput for the
// same objects server-side-applied by a plain client (same concurrency) in the same run. Prints JSON and
// writes bench-results/operator.json.
// The control plane runs on its own CPUs and the clients (this process, the operator) on the others,
// as with a managed control plane (test/support/pin-cpus.ts); --no-pin shares them.
// Raw and operator phases alternate (--rounds, default 3); medians, spread and every round are reported.
//   node test/bench/operator.ts [--count 200] [--concurrency 8] [--timeout 900] [--rounds 3] [--no-pin]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { KubernetesObject } from '@kubernetes/client-node';
import pino from 'pino';
import { parse } from 'yaml';
import { parseVoiceAgent } from '../../cdk8s/api/v1alpha1/index.ts';
import { renderVoiceAgent } from '../../cdk8s/charts/index.ts';
import { resourceFor } from '../../operator/kube/resources.ts';
import { KubeRest } from '../../operator/kube/rest.ts';
import { CREATE_ONLY_ANNOTATION } from '../../operator/reconcile/children.ts';
import { normalizeForApply } from '../../operator/reconcile/compare.ts';
import { Informer } from '../../operator/runtime/informer.ts';
import { apiServerRequests } from '../support/api-server-requests.ts';
import { profileApiServer } from '../support/apiserver-profile.ts';
import { startCluster } from '../support/cluster.ts';
import { countFlag } from '../support/flags.ts';
import { imageJs } from '../support/image-js.ts';
import { createNamespace, kubectlOk, waitForCrdsEstablished } from '../support/kube-helpers.ts';
import { countsSince, startOperator, sumMetric } from '../support/operator.ts';
import { pinControlPlane } from '../support/pin-cpus.ts';
import { cpuSeconds, residentMemoryMb } from '../support/proc.ts';
import { waitFor } from '../support/processes.ts';
import { spread } from '../support/spread.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '8' },
    timeout: { type: 'string', default: '900' },
    // Raw and operator phases, alternating, each this many times.
    rounds: { type: 'string', default: '3' },
    // Share every CPU between the control plane and the clients instead (test/support/pin-cpus.ts).
    'no-pin': { type: 'boolean', default: false },
  },
});
const COUNT = Number(values.count);
const CONCURRENCY = Number(values.concurrency);
const TIMEOUT_MS = Number(values.timeout) * 1000;
const ROUNDS = countFlag('rounds', values.rounds);
const root = new URL('../../', import.meta.url).pathname;
const log = (message: string) => process.stderr.write(`[bench:operator] ${message}\n`);
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

type VA = KubernetesObject & { spec: Record<string, unknown> };

/** The echo example, one replica and an HPA floor of one, so kwok pods do not dominate the figures. */
function voiceAgent(name: string, namespace: string): VA {
  const example = parse(readFileSync(`${root}examples/voiceagent-echo.yaml`, 'utf8')) as VA;
  return {
    apiVersion: example.apiVersion,
    kind: example.kind,
    metadata: { name, namespace },
    spec: { ...example.spec, replicas: 1, autoscaling: { minReplicas: 1, maxReplicas: 2 } },
  };
}

const names = Array.from({ length: COUNT }, (_, i) => `agent-${String(i).padStart(3, '0')}`);

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

type Deploy = KubernetesObject & {
  metadata: { generation?: number };
  status?: { observedGeneration?: number; availableReplicas?: number; updatedReplicas?: number };
};
type VAStatus = KubernetesObject & {
  status?: { observedGeneration?: number; conditions?: { type: string; status: string }[] };
};

function deploymentAvailable(d: Deploy): boolean {
  return (
    (d.status?.observedGeneration ?? 0) >= (d.metadata.generation ?? 1) &&
    (d.status?.availableReplicas ?? 0) >= 1
  );
}

function voiceAgentReady(va: VAStatus): boolean {
  return (
    va.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true &&
    va.status?.observedGeneration === va.metadata?.generation
  );
}

/** Polls `count()` every 250 ms until it reaches COUNT; returns ms since `t0` at which it did, and milestones. */
async function until(
  what: string,
  t0: number,
  count: () => Promise<number>,
  sample?: (ms: number, ready: number) => Promise<void>,
): Promise<{ allMs: number; firstMs: number; halfMs: number }> {
  let firstMs = -1;
  let halfMs = -1;
  let last = 0;
  const deadline = t0 + TIMEOUT_MS;
  while (performance.now() < deadline) {
    last = await count();
    const now = performance.now() - t0;
    await sample?.(now, last);
    if (last > 0 && firstMs < 0) firstMs = now;
    if (last >= COUNT / 2 && halfMs < 0) halfMs = now;
    if (last >= COUNT) return { allMs: round(now, 0), firstMs: round(firstMs, 0), halfMs: round(halfMs, 0) };
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: only ${last}/${COUNT} after ${TIMEOUT_MS / 1000}s`);
}

/** GET /metrics on a fresh connection, retried: Node's fetch may reuse a socket the server just closed. */
async function metricsText(url: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await (await fetch(url, { headers: { connection: 'close' } })).text();
    } catch (error) {
      if (attempt >= 5) throw error;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

/** user+system CPU seconds of each control-plane process, this benchmark (the raw client) and the operator. */
function cpuByProcess(operatorPid?: number): Record<string, number> {
  const seconds = (pid: number | undefined) => {
    try {
      return cpuSeconds(pid);
    } catch {
      return 0;
    }
  };
  const own = process.cpuUsage();
  const out: Record<string, number> = { bench: (own.user + own.system) / 1e6 };
  for (const [name, p] of cluster.processes) out[name] = seconds(p.child.pid);
  if (operatorPid) out.operator = seconds(operatorPid);
  return out;
}

/** CPU seconds of the control plane's processes alone (not this benchmark, not the operator). */
function controlPlaneCpu(seconds: Record<string, number>): number {
  return [...cluster.processes.keys()].reduce((sum, name) => sum + (seconds[name] ?? 0), 0);
}

function cpuSince(before: Record<string, number>, operatorPid?: number): Record<string, number> {
  const now = cpuByProcess(operatorPid);
  return Object.fromEntries(Object.entries(now).map(([k, v]) => [k, round(v - (before[k] ?? 0), 1)]));
}

async function watched(rest: KubeRest, apiVersion: string, kind: string, namespace: string) {
  const informer = new Informer<KubernetesObject>(
    rest,
    { resource: resourceFor(apiVersion, kind), namespaces: [namespace] },
    pino({ level: 'silent' }),
  );
  await informer.start();
  return informer;
}

/** Waits until the API server serves fewer than 10 writes in 2 s (leases and heartbeats only); ms waited. */
async function untilQuiet(maxMs = 180_000): Promise<number> {
  const writes = (counts: Record<string, number>) =>
    Object.entries(counts)
      .filter(([key]) => !/^(GET|LIST) /.test(key))
      .reduce((sum, [, n]) => sum + n, 0);
  const t0 = performance.now();
  let last = writes(await apiServerRequests(cluster));
  while (performance.now() - t0 < maxMs) {
    await new Promise((r) => setTimeout(r, 2000));
    const now = writes(await apiServerRequests(cluster));
    if (now - last < 10) break;
    last = now;
  }
  return round(performance.now() - t0, 0);
}

// BENCH_APISERVER_PROFILE=<dir>: kube-apiserver's CPU profile over the first 30 s of each phase, a file
// per phase (`go tool pprof -top <dir>/bench-raw-1.pprof`).
const PROFILE_DIR = process.env.BENCH_APISERVER_PROFILE;
const PROFILE_SECONDS = 30;
if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });
const cluster = await startCluster({ controllers: true, nodes: 3, apiserverProfiling: Boolean(PROFILE_DIR) });

/** Starts the API server's profile of the phase `ns` (BENCH_APISERVER_PROFILE); await it when the phase ends. */
function profilePhase(ns: string): Promise<void> {
  if (!PROFILE_DIR) return Promise.resolve();
  return profileApiServer(cluster, PROFILE_SECONDS, join(PROFILE_DIR, `${ns}.pprof`)).catch((error) => {
    log(`${ns}: ${String(error)}`);
  });
}
const pinning = values['no-pin'] ? undefined : pinControlPlane(cluster);
const rest = new KubeRest(cluster.kc);

/** (a) raw baseline: the CRs, then exactly the children the operator renders, applied by a plain client. */
async function rawPhase(ns: string) {
  await kubectlOk(cluster, ['create', 'namespace', ns]);
  let rawWrites = 0;
  // Progress is counted from watches, not by listing every 250 ms: a list of 200 objects in the middle
  // of a phase is load on the API server the phase is measured by.
  const rawDeployments = await watched(rest, 'apps/v1', 'Deployment', ns);
  const rawCpu0 = cpuByProcess();
  const rawRequests0 = await apiServerRequests(cluster);
  const rawT0 = performance.now();
  const profiled = profilePhase(ns);
  const crs = new Map<string, VA>();
  await pool(names, CONCURRENCY, async (name) => {
    crs.set(name, await rest.apply(voiceAgent(name, ns), 'callfleet-bench'));
    rawWrites++;
  });
  const children: KubernetesObject[] = [];
  // What the operator server-side-applies: every child but the create-only ones (a generated Secret),
  // which it creates (ADR 0021 addendum).
  let appliedChildren = 0;
  for (const name of names) {
    const parsed = parseVoiceAgent(crs.get(name));
    if (!parsed.ok) throw new Error(`${name}: ${JSON.stringify(parsed.issues)}`);
    const rendered = renderVoiceAgent(parsed.value, {});
    if (!rendered.ok) throw new Error(`${name}: ${rendered.error.message}`);
    children.push(...rendered.objects.map(normalizeForApply));
    appliedChildren += rendered.objects.filter(
      (o) => o.metadata?.annotations?.[CREATE_ONLY_ANNOTATION] !== 'true',
    ).length;
  }
  await pool(children, CONCURRENCY, async (object) => {
    await rest.apply(object, 'callfleet-bench');
    rawWrites++;
  });
  const rawApplyMs = performance.now() - rawT0;
  const cpu = cpuSince(rawCpu0);
  const requests = countsSince(rawRequests0, await apiServerRequests(cluster));
  log(`${ns}: ${rawWrites} objects applied in ${round(rawApplyMs, 0)} ms`);
  const rawReady = await until(
    'raw Deployments available',
    rawT0,
    async () => rawDeployments.list((d) => deploymentAvailable(d as Deploy)).length,
  );
  await rawDeployments.stop();
  const cpuToReady = cpuSince(rawCpu0);
  await profiled;
  log(`${ns}: all Deployments available after ${rawReady.allMs} ms`);
  await deleteAndSettle(ns);
  return {
    appliedChildren,
    cpu,
    cpuToReady,
    requests,
    result: {
      objects: rawWrites,
      applyMs: round(rawApplyMs, 0),
      objectsPerSecond: round(rawWrites / (rawApplyMs / 1000), 1),
      allDeploymentsAvailableMs: rawReady.allMs,
      firstAvailableMs: rawReady.firstMs,
      halfAvailableMs: rawReady.halfMs,
      writesPerVoiceAgent: round(rawWrites / COUNT, 1),
    },
  };
}

/**
 * Frees the kwok nodes' pod capacity (3 × 110) for the next phase, which starts from a quiet cluster:
 * the namespace is gone before its objects are, and the garbage collector and the endpoint controllers
 * go on deleting for tens of seconds.
 */
async function deleteAndSettle(ns: string): Promise<void> {
  const deleteT0 = performance.now();
  await kubectlOk(cluster, ['delete', 'namespace', ns, '--wait=true', '--timeout=600s']);
  log(`${ns} deleted in ${round(performance.now() - deleteT0, 0)} ms`);
  log(`control plane quiet ${await untilQuiet()} ms later`);
}

/** (b) the operator: COUNT VoiceAgents created at once in a fresh namespace. */
async function operatorPhase(ns: string, appliedChildren: number) {
  await createNamespace(cluster, ns); // with the Secrets the VoiceAgents read
  // As the image runs it: compiled to JavaScript (ADR 0030).
  const operator = await startOperator(
    cluster,
    [`--namespace=${ns}`, `--concurrency=${CONCURRENCY}`],
    'operator',
    {
      binary: join(imageJs(), 'bin/callfleet.js'),
    },
  );
  try {
    await waitFor('operator caches synced', async () => {
      const res = await fetch(operator.metricsUrl.replace('/metrics', '/readyz'));
      return res.ok && (await operator.metric('callfleet_operator_leader')) === 1;
    });
    await new Promise((r) => setTimeout(r, 2000)); // leader → controller start → informers synced
    const pid = operator.process.child.pid;
    const idleRss = residentMemoryMb(pid);
    const writesBefore = await operator.metric('callfleet_operator_api_writes_total');

    const voiceAgents = await watched(rest, 'callfleet.io/v1alpha1', 'VoiceAgent', ns);
    const opCpu0 = cpuByProcess(pid);
    const opRequests0 = await apiServerRequests(cluster);
    let cpu: Record<string, number> = {};
    let requests: Record<string, number> = {};
    const opT0 = performance.now();
    const profiled = profilePhase(ns);
    await Promise.all(
      names.map((name) =>
        rest.create(`/apis/callfleet.io/v1alpha1/namespaces/${ns}/voiceagents`, voiceAgent(name, ns)),
      ),
    );
    const createdMs = performance.now() - opT0;
    log(`${ns}: ${COUNT} VoiceAgents created in ${round(createdMs, 0)} ms`);
    // Where the time goes: the operator's counters every ~second, beside the Ready count.
    const timeline: Record<string, number>[] = [];
    let appliesDoneMs = -1;
    const opReady = await until(
      'VoiceAgents Ready',
      opT0,
      async () => voiceAgents.list((va) => voiceAgentReady(va as VAStatus)).length,
      async (ms, ready) => {
        if (timeline.length && ms - (timeline.at(-1)?.ms ?? 0) < 1000) return;
        // A failed scrape (keep-alive reset on a loaded machine) only loses one point.
        const text = await metricsText(operator.metricsUrl).catch(() => undefined);
        if (text === undefined) return;
        const point = {
          ms: round(ms, 0),
          ready,
          applies: sumMetric(text, 'callfleet_operator_api_writes_total', { verb: 'apply' }),
          statusPatches: sumMetric(text, 'callfleet_operator_api_writes_total', { verb: 'patch' }),
          events: sumMetric(text, 'callfleet_operator_api_writes_total', { verb: 'create' }),
          reconciles: sumMetric(text, 'callfleet_operator_reconciles_total', { kind: 'VoiceAgent' }),
          queueDepth: sumMetric(text, 'callfleet_operator_queue_depth'),
        };
        if (appliesDoneMs < 0 && point.applies >= appliedChildren) {
          appliesDoneMs = point.ms;
          cpu = cpuSince(opCpu0, pid);
          requests = countsSince(opRequests0, await apiServerRequests(cluster));
        }
        timeline.push(point);
      },
    );
    const cpuToReady = cpuSince(opCpu0, pid);
    log(`${ns}: all VoiceAgents Ready after ${opReady.allMs} ms`);
    await voiceAgents.stop();
    await profiled;
    if (appliesDoneMs < 0) appliesDoneMs = opReady.allMs; // finished between two samples

    const text = await metricsText(operator.metricsUrl);
    const m = (name: string, labels: Record<string, string> = {}) => sumMetric(text, name, labels);
    const writesAtReady = m('callfleet_operator_api_writes_total') - writesBefore;
    const writesByVerb = Object.fromEntries(
      ['apply', 'patch', 'create', 'update', 'delete'].map((verb) => [
        verb,
        m('callfleet_operator_api_writes_total', { verb }),
      ]),
    );
    const reconciles = m('callfleet_operator_reconciles_total', { kind: 'VoiceAgent', result: 'success' });
    const reconcileErrors = m('callfleet_operator_reconciles_total', { kind: 'VoiceAgent', result: 'error' });
    const durationSum = m('callfleet_operator_reconcile_duration_seconds_sum', { kind: 'VoiceAgent' });
    const durationCount = m('callfleet_operator_reconcile_duration_seconds_count', { kind: 'VoiceAgent' });
    const rssAtReady = residentMemoryMb(pid);

    // Trailing work after the last Ready (Deployment status settling, events): still writes?
    await new Promise((r) => setTimeout(r, 10_000));
    const writesSettled = (await operator.metric('callfleet_operator_api_writes_total')) - writesBefore;
    const reconcilesSettled = await operator.metric('callfleet_operator_reconciles_total', {
      kind: 'VoiceAgent',
      result: 'success',
    });
    // Deleted while the operator runs: its children go with their owners (no finalizers to remove).
    await deleteAndSettle(ns);
    return {
      cpu,
      cpuToReady,
      requests,
      result: {
        createMs: round(createdMs, 0),
        allReadyMs: opReady.allMs,
        firstReadyMs: opReady.firstMs,
        halfReadyMs: opReady.halfMs,
        apiWrites: writesAtReady,
        apiWritesByVerb: writesByVerb,
        writesPerVoiceAgent: round(writesAtReady / COUNT, 2),
        writesPerVoiceAgentAfter10sSettle: round(writesSettled / COUNT, 2),
        writesPerSecond: round(writesAtReady / (opReady.allMs / 1000), 1),
        allChildrenAppliedMs: appliesDoneMs,
        childAppliesPerSecond: round((writesByVerb.apply ?? 0) / (appliesDoneMs / 1000), 1),
        reconciles,
        reconcileErrors,
        reconcilesPerVoiceAgent: round(reconciles / COUNT, 2),
        reconcilesPerVoiceAgentAfter10sSettle: round(reconcilesSettled / COUNT, 2),
        meanReconcileMs: round((durationSum / Math.max(durationCount, 1)) * 1000, 1),
        reconcileBusySeconds: round(durationSum, 1),
        idleRssMb: idleRss.rssMb,
        peakRssMb: rssAtReady.peakRssMb,
        timelineEvery5s: timeline.filter((p, i) => i === timeline.length - 1 || (p.ms ?? 0) % 5000 < 1000),
      },
    };
  } finally {
    await operator.stop();
  }
}

interface Round {
  raw: Awaited<ReturnType<typeof rawPhase>>['result'];
  operator: Awaited<ReturnType<typeof operatorPhase>>['result'];
  ratio: Record<
    | 'applyPhaseOperatorOverRaw'
    | 'firstReadyOperatorOverRawFirstAvailable'
    | 'readyTimeOperatorOverRaw'
    | 'writesOperatorOverRaw',
    number
  >;
  applyPhaseCpuSeconds: Record<'raw' | 'operator', Record<string, number>>;
  toReadyCpuSeconds: Record<'raw' | 'operator', Record<string, number>>;
  controlPlaneCpuOperatorOverRaw: Record<'applyPhase' | 'toReady', number>;
  applyPhaseApiRequests: Record<'raw' | 'operator', Record<string, number>>;
}

try {
  await kubectlOk(cluster, ['apply', '-f', `${root}crds`]);
  await waitForCrdsEstablished(cluster, 'all', 30_000);
  // Raw and operator phases alternate, each from a quiet cluster: the raw client's own phase moves by
  // ±30 % between runs, so one pair is a coin toss; each round's ratio compares neighbours.
  const rounds: Round[] = [];
  for (let i = 1; i <= ROUNDS; i++) {
    const raw = await rawPhase(`bench-raw-${i}`);
    const op = await operatorPhase(`bench-operator-${i}`, raw.appliedChildren);
    rounds.push({
      raw: raw.result,
      operator: op.result,
      ratio: {
        applyPhaseOperatorOverRaw: round(op.result.allChildrenAppliedMs / raw.result.applyMs, 2),
        firstReadyOperatorOverRawFirstAvailable: round(
          op.result.firstReadyMs / raw.result.firstAvailableMs,
          2,
        ),
        readyTimeOperatorOverRaw: round(op.result.allReadyMs / raw.result.allDeploymentsAvailableMs, 2),
        writesOperatorOverRaw: round(op.result.apiWrites / raw.result.objects, 2),
      },
      // CPU seconds per process in each apply phase, and from its start until all are Ready/available:
      // where the machine's time went.
      applyPhaseCpuSeconds: { raw: raw.cpu, operator: op.cpu },
      toReadyCpuSeconds: { raw: raw.cpuToReady, operator: op.cpuToReady },
      controlPlaneCpuOperatorOverRaw: {
        applyPhase: round(controlPlaneCpu(op.cpu) / controlPlaneCpu(raw.cpu), 2),
        toReady: round(controlPlaneCpu(op.cpuToReady) / controlPlaneCpu(raw.cpuToReady), 2),
      },
      // Requests the API server served in each apply phase, by verb and resource (from its own metrics).
      applyPhaseApiRequests: { raw: raw.requests, operator: op.requests },
    });
  }
  const of = (pick: (r: Round) => number, digits: number) => spread(rounds.map(pick), digits);
  const result = {
    benchmark: 'operator',
    node: process.version,
    cpus: cpus().length,
    loadAverage1mAtEnd: round(loadavg()[0] ?? 0, 1),
    voiceAgents: COUNT,
    concurrency: CONCURRENCY,
    pinning: pinning ?? 'none',
    spec: { replicas: 1, autoscaling: { minReplicas: 1, maxReplicas: 2 } },
    // Medians over the rounds (spread and every round beside them); each ratio is taken within its round.
    median: {
      rawApplyMs: of((r) => r.raw.applyMs, 0),
      operatorApplyPhaseMs: of((r) => r.operator.allChildrenAppliedMs, 0),
      rawFirstAvailableMs: of((r) => r.raw.firstAvailableMs, 0),
      operatorFirstReadyMs: of((r) => r.operator.firstReadyMs, 0),
      meanReconcileMs: of((r) => r.operator.meanReconcileMs, 1),
      peakRssMb: of((r) => r.operator.peakRssMb, 1),
    },
    ratio: {
      applyPhaseOperatorOverRaw: of((r) => r.ratio.applyPhaseOperatorOverRaw, 2),
      firstReadyOperatorOverRawFirstAvailable: of((r) => r.ratio.firstReadyOperatorOverRawFirstAvailable, 2),
      controlPlaneCpuApplyPhase: of((r) => r.controlPlaneCpuOperatorOverRaw.applyPhase, 2),
      controlPlaneCpuToReady: of((r) => r.controlPlaneCpuOperatorOverRaw.toReady, 2),
      readyTimeOperatorOverRaw: of((r) => r.ratio.readyTimeOperatorOverRaw, 2),
    },
    rounds,
  };
  const json = JSON.stringify(result, null, 2);
  process.stdout.write(`${json}\n`);
  mkdirSync(`${root}bench-results`, { recursive: true });
  writeFileSync(`${root}bench-results/operator.json`, `${json}\n`);
} finally {
  await cluster.stop();
}
