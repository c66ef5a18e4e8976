// Scale benchmark (issue 24): N VoiceAgents carrying N×P gateway pods (kwok pods, their internal doors
// and notices served by one simulator process: test/simulator/gateway-fleet.ts), against a raw client
// applying the same objects in the same run; then live-call churn at a given arrival rate.
// Reports: time for all VoiceAgents Ready vs the raw client's Deployments available; API writes per
// minute in steady state beyond the pod marks; busy-mark latency p50/p99 from call start to label;
// operator CPU (share of one core) under churn; operator peak RSS vs the JSON size of what it caches.
// Prints JSON and writes bench-results/operator-scale-<pods>.json.
//   node test/bench/operator-scale.ts [--voiceagents 1000] [--pods 10] [--call-rate 20]
//     [--call-seconds 90] [--churn-seconds 120] [--concurrency 8] [--timeout 3600] [--skip-raw]
//     [--namespaces 100] [--operator-memory 512Mi|none] [--operator-code js|ts] [--same-cluster] [--one-kwok]
//     [--no-hpa-controller] [--cpu-profile FILE] [--apiserver-gogc 200]
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { basename, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { parseVoiceAgent } from '../../cdk8s/api/v1alpha1/index.ts';
import { renderVoiceAgent } from '../../cdk8s/charts/index.ts';
import { KubeRest } from '../../operator/kube/rest.ts';
import { OPERATOR_NODE_OPTIONS } from '../../operator/node-options.ts';
import { normalizeForApply } from '../../operator/reconcile/compare.ts';
import { GatewayFleet, type SimPod } from '../simulator/gateway-fleet.ts';
import { apiServerRequests } from '../support/api-server-requests.ts';
import { startCluster } from '../support/cluster.ts';
import { type CpuProfile, topSelfTime } from '../support/cpu-profile.ts';
import { countFlag } from '../support/flags.ts';
import { imageJs } from '../support/image-js.ts';
import { liveHeapBytes, startCpuProfile } from '../support/inspector.ts';
import { createNamespace, kubectlOk, waitForCrdsEstablished } from '../support/kube-helpers.ts';
import { bytesOfQuantity, createMemoryCgroup } from '../support/memory-cgroup.ts';
import { countsSince, startOperator, sumMetric } from '../support/operator.ts';
import { parseNiceness, reniceProcesses } from '../support/pin-cpus.ts';
import { freePort } from '../support/ports.ts';
import { cpuSeconds, residentMemoryMb } from '../support/proc.ts';
import { waitFor } from '../support/processes.ts';

const root = new URL('../../', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    voiceagents: { type: 'string', default: '1000' },
    pods: { type: 'string', default: '10' },
    'call-rate': { type: 'string', default: '20' },
    'call-seconds': { type: 'string', default: '90' },
    'churn-seconds': { type: 'string', default: '120' },
    concurrency: { type: 'string', default: '8' },
    timeout: { type: 'string', default: '3600' },
    'skip-raw': { type: 'boolean', default: false },
    // VoiceAgents spread over this many namespaces (round robin), as teams of a platform hold them. With
    // one, every ReplicaSet, PDB, HPA and EndpointSlice sync of kube-controller-manager lists all the
    // pods, and it takes over half of the 2 cores under call churn.
    namespaces: { type: 'string', default: '100' },
    // Keep the raw namespace (and its pods) through the operator phase instead of deleting it first:
    // only harder for the operator (implies --same-cluster).
    'keep-raw': { type: 'boolean', default: false },
    // Run the operator phase on the raw phase's control plane once its namespaces are deleted, instead of a
    // fresh one. Deleting 10,000 pods takes the control plane ten minutes, and its aftermath (kwok's and the
    // garbage collector's queues) slows the operator phase that follows: a fresh control plane gives both
    // sides the same start (docs/benchmarks.md, twelfth session).
    'same-cluster': { type: 'boolean', default: false },
    // For comparison only: without a metrics API, the HPA controller reads every VoiceAgent's scale and
    // writes a failure Event for it every 15 s (a real cluster has metrics-server; docs/benchmarks.md, thirteenth session).
    'no-hpa-controller': { type: 'boolean', default: false },
    // GOGC of kube-apiserver: Go's default is 100. At 10,000 pods its heap holds about 1 GB, and at 100
    // each collection took a quarter of a core and brought a burst of slow requests on these 2 cores;
    // large clusters tune it so (docs/benchmarks.md, fifteenth session).
    'apiserver-gogc': { type: 'string', default: '200' },
    // The operator's V8 CPU profile during the churn, written to this file (`.cpuprofile`); the JSON gets
    // the functions with the most self time.
    'cpu-profile': { type: 'string' },
    // The operator's memory limit, as its pod has (default: the chart's `operator.resources.limits.memory`);
    // Node sizes its heap from it. `none`: unlimited (a heap of about a sixth of the machine's memory).
    'operator-memory': { type: 'string', default: chartOperatorMemoryLimit() },
    // `js`: the operator runs as the image runs it, compiled to JavaScript (no type stripper, ADR 0030);
    // `ts`: from the TypeScript sources.
    'operator-code': { type: 'string', default: 'js' },
    // One kwok for all the fake nodes instead of one per node (ClusterOptions.kwokPerNode).
    'one-kwok': { type: 'boolean', default: false },
  },
});
const COUNT = Number(values.voiceagents);
const PODS = Number(values.pods);
const TOTAL_PODS = COUNT * PODS;
const CALL_RATE = Number(values['call-rate']);
const CALL_SECONDS = Number(values['call-seconds']);
const CHURN_MS = Number(values['churn-seconds']) * 1000;
const CONCURRENCY = Number(values.concurrency);
const TIMEOUT_MS = Number(values.timeout) * 1000;
const namespacesAsked = countFlag('namespaces', values.namespaces);
// No empty namespaces: fewer VoiceAgents than namespaces asked take one each.
const NAMESPACES = Math.min(namespacesAsked, COUNT);
if (NAMESPACES > 1 && values['keep-raw']) throw new Error('--keep-raw needs --namespaces 1');
// Scheduling priority of control-plane processes (BENCH_RENICE=name=niceness,...; `none` for none).
const NICENESS = parseNiceness(process.env.BENCH_RENICE ?? 'kwok=-10');
if (!['js', 'ts'].includes(values['operator-code'] as string))
  throw new Error(`--operator-code ${values['operator-code']}: expected js or ts`);
const APISERVER_GOGC = countFlag('apiserver-gogc', values['apiserver-gogc']);
const SAME_CLUSTER = values['same-cluster'] === true || values['keep-raw'] === true;
const OPERATOR_MEMORY = values['operator-memory'] === 'none' ? undefined : values['operator-memory'];
const operatorMemoryBytes = OPERATOR_MEMORY === undefined ? undefined : bytesOfQuantity(OPERATOR_MEMORY);
const log = (message: string) => process.stderr.write(`[bench:operator-scale] ${message}\n`);
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const mb = (bytes: number) => round(bytes / 1024 / 1024, 1);

/** BENCH_KEEP_LOGS=<dir>: a process's log is copied there after the run. */
function keepLog(file: string): void {
  const keep = process.env.BENCH_KEEP_LOGS;
  if (!keep) return;
  mkdirSync(keep, { recursive: true });
  copyFileSync(file, join(keep, basename(file)));
}

function chartOperatorMemoryLimit(): string {
  const chart = parse(readFileSync(`${root}charts/callfleet/values.yaml`, 'utf8'));
  return chart.operator.resources.limits.memory;
}

type VA = KubernetesObject & { spec: Record<string, unknown> };
interface Listed<T> {
  items: T[];
}
type Deploy = KubernetesObject & {
  metadata: { generation?: number };
  spec?: { replicas?: number };
  status?: { observedGeneration?: number; availableReplicas?: number };
};
type VAStatus = KubernetesObject & {
  status?: { observedGeneration?: number; conditions?: { type: string; status: string }[] };
};

function voiceAgent(name: string, namespace: string): VA {
  const example = parse(readFileSync(`${root}examples/voiceagent-echo.yaml`, 'utf8')) as VA;
  return {
    apiVersion: example.apiVersion,
    kind: example.kind,
    metadata: { name, namespace },
    spec: { ...example.spec, replicas: PODS, autoscaling: { minReplicas: PODS, maxReplicas: PODS * 2 } },
  };
}
const names = Array.from({ length: COUNT }, (_, i) => `agent-${String(i).padStart(4, '0')}`);
const indexOf = new Map(names.map((name, i) => [name, i]));
/** The namespaces of a phase (`base`, or `base-0`… with --namespaces), and the one each VoiceAgent is in. */
function spread(base: string) {
  const all = NAMESPACES === 1 ? [base] : Array.from({ length: NAMESPACES }, (_, i) => `${base}-${i}`);
  return { all, of: (name: string) => all[(indexOf.get(name) ?? 0) % all.length] as string };
}

/** Items of `kind` in the phase's namespaces (one namespace: that one's list; else the cluster's). */
async function listIn<T extends KubernetesObject>(rest: KubeRest, group: string, kind: string, ns: string[]) {
  const path = ns.length === 1 ? `${group}/namespaces/${ns[0]}/${kind}` : `${group}/${kind}`;
  const list = await rest.get<Listed<T>>(path);
  return list.items.filter((o) => ns.includes(o.metadata?.namespace ?? ''));
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** Polls `count()` every 2 s until it reaches `target`: ms since t0 for the first, half and all. */
async function until(what: string, t0: number, target: number, count: () => Promise<number>) {
  let firstMs = -1;
  let halfMs = -1;
  let last = 0;
  while (performance.now() - t0 < TIMEOUT_MS) {
    last = await count().catch(() => last);
    const now = performance.now() - t0;
    if (last > 0 && firstMs < 0) firstMs = now;
    if (last >= target / 2 && halfMs < 0) halfMs = now;
    if (last >= target) return { allMs: round(now, 0), firstMs: round(firstMs, 0), halfMs: round(halfMs, 0) };
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error(`${what}: only ${last}/${target} after ${TIMEOUT_MS / 1000}s`);
}

/** Per `binS` seconds of churn: how many busy marks, their p50 and max latency. */
function timeline(samples: { atS: number; ms: number }[], binS: number) {
  const bins = new Map<number, number[]>();
  for (const { atS, ms } of samples) {
    const bin = Math.floor(atS / binS) * binS;
    const bucket = bins.get(bin);
    if (bucket) bucket.push(ms);
    else bins.set(bin, [ms]);
  }
  return [...bins.entries()]
    .sort(([a], [b]) => a - b)
    .map(([atS, ms]) => {
      const sorted = ms.sort((a, b) => a - b);
      return { atS, n: sorted.length, p50: percentile(sorted, 50), max: percentile(sorted, 100) };
    });
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return -1;
  return round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number, 1);
}

async function metricsText(url: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await (await fetch(url, { headers: { connection: 'close' } })).text();
    } catch (error) {
      if (attempt >= 5) throw error;
      await new Promise((r) => setTimeout(r, 300 * attempt));
    }
  }
}

/** The q-quantile (0..1) of a histogram's observations between two scrapes: the bucket bound it falls in. */
function histogramQuantile(before: string, after: string, name: string, q: number, labels = {}): number {
  const bounds = [...after.matchAll(new RegExp(`^${name}_bucket\\{[^}]*le="([^"]+)"`, 'gm'))]
    .map((m) => m[1] as string)
    .filter((le, i, all) => all.indexOf(le) === i);
  const count = (text: string, le: string) => sumMetric(text, `${name}_bucket`, { ...labels, le });
  const total = count(after, '+Inf') - count(before, '+Inf');
  if (total <= 0) return -1;
  for (const le of bounds) {
    if (count(after, le) - count(before, le) >= q * total)
      return le === '+Inf' ? Infinity : Number(le) * 1000;
  }
  return -1;
}

/** The operator's API writes between two scrapes, as `verb resource` → count (largest first). */
function writesByVerbAndResource(before: string, after: string): Record<string, number> {
  const counts = (text: string) => {
    const out: Record<string, number> = {};
    for (const m of text.matchAll(
      /^callfleet_operator_api_writes_total\{(?=[^}]*verb="([^"]+)")(?=[^}]*resource="([^"]+)")[^}]*\}\s+(\S+)/gm,
    ))
      out[`${m[1]} ${m[2]}`] = Number(m[3]);
    return out;
  };
  return countsSince(counts(before), counts(after));
}

/** The operator's V8 heap (used, committed) in MB, from its default Node metrics. */
function heapOf(text: string) {
  return {
    used: mb(sumMetric(text, 'callfleet_operator_nodejs_heap_size_used_bytes')),
    committed: mb(sumMetric(text, 'callfleet_operator_nodejs_heap_size_total_bytes')),
  };
}

function clusterPids(): Record<string, (number | undefined)[]> {
  const pids: Record<string, (number | undefined)[]> = {};
  // One kwok per node counts as `kwok`.
  for (const [name, m] of cluster.processes) {
    const group = name.replace(/^kwok-\d+$/, 'kwok');
    pids[group] = [...(pids[group] ?? []), m.child.pid];
  }
  return pids;
}

/** Starts counting the CPU of each group of `pids`; the returned function gives each one's share of a core since. */
function cpuShares(
  pids: Record<string, (number | undefined)[]>,
): (elapsedMs: number) => Record<string, number> {
  const seconds = (group: (number | undefined)[]) => group.reduce((sum: number, p) => sum + cpuSeconds(p), 0);
  const at = Object.fromEntries(Object.entries(pids).map(([name, group]) => [name, seconds(group)]));
  return (elapsedMs) =>
    Object.fromEntries(
      Object.entries(pids).map(([name, group]) => [
        name,
        round((seconds(group) - (at[name] ?? 0)) / (elapsedMs / 1000), 3),
      ]),
    );
}

/**
 * What a phase's rollout cost the control plane, from its start to all Ready (or available): each
 * process's share of a core, and the API server's writes per VoiceAgent by verb and resource (the
 * largest; reads and leases left out).
 */
function rolloutWork(
  cpuShareByProcess: Record<string, number>,
  requestsBefore: Record<string, number>,
  requestsAfter: Record<string, number>,
) {
  const writes = Object.entries(countsSince(requestsBefore, requestsAfter)).filter(
    ([key, n]) => n > 0 && !/^(GET|LIST) |leases$/.test(key),
  );
  return {
    cpuShareByProcess,
    apiServerWritesPerVoiceAgent: round(writes.reduce((sum, [, n]) => sum + n, 0) / COUNT, 1),
    apiServerWritesPerVoiceAgentByResource: largestRates(Object.fromEntries(writes), COUNT, 2),
  };
}

/** The 15 largest of `counts` (zeros left out), each divided by `per` and rounded to `digits`. */
function largestRates(counts: Record<string, number>, per: number, digits: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(counts)
      .filter(([, n]) => n > 0)
      .sort(([, a], [, b]) => b - a)
      .slice(0, 15)
      .map(([key, n]) => [key, round(n / per, digits)]),
  );
}

const deploymentAvailable = (d: Deploy) =>
  (d.status?.observedGeneration ?? 0) >= (d.metadata.generation ?? 1) &&
  (d.status?.availableReplicas ?? 0) >= (d.spec?.replicas ?? PODS);
const voiceAgentReady = (va: VAStatus) =>
  va.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true &&
  va.status?.observedGeneration === va.metadata?.generation;

const nodes = Math.max(2, Math.ceil((2 * TOTAL_PODS) / 1000) + 1);
log(`${COUNT} VoiceAgents × ${PODS} pods = ${TOTAL_PODS} pods on ${nodes} kwok nodes`);
// Pod IPs from a range made local (not 127/8): EndpointSlices accept them, as a real cluster's. With
// loopback pod IPs the EndpointSlice controller fails every Service, retries it forever and writes an
// Event each time: load no real cluster has (BENCH_LOOPBACK_POD_IPS=1 brings it back, for comparison).
async function startControlPlane() {
  const started = await startCluster({
    controllers: true,
    nodes,
    podsPerNode: 1000,
    controllerQps: 200,
    kwokPerNode: !values['one-kwok'],
    apiserverGogc: APISERVER_GOGC,
    ...(values['no-hpa-controller'] ? { disabledControllers: ['horizontal-pod-autoscaler-controller'] } : {}),
    ...(process.env.BENCH_LOOPBACK_POD_IPS ? {} : { podCidr: '198.19.0.1/16' }),
  });
  // kwok stands in for 10,000 kubelets, each of which has a node of its own: by default it runs ahead of
  // the rest, else on these 2 saturated cores its pod watch falls behind, the API server closes it and
  // kwok relists all the pods (75 MB), which stalls every pod request (docs/benchmarks.md, tenth session).
  const reniced = reniceProcesses(started, NICENESS, (name, error) =>
    log(`BENCH_RENICE: ${name} keeps its priority (${String(error)}; raising one needs root)`),
  );
  await kubectlOk(started, ['apply', '-f', `${root}crds`]);
  await waitForCrdsEstablished(started, 'all', 60_000);
  return { started, reniced, rest: new KubeRest(started.kc, { timeoutMs: 120_000 }) };
}
const first = await startControlPlane();
let cluster = first.started;
let rest = first.rest;
const result: Record<string, unknown> = {
  benchmark: 'operator-scale',
  node: process.version,
  cpus: cpus().length,
  voiceAgents: COUNT,
  podsPerVoiceAgent: PODS,
  pods: TOTAL_PODS,
  concurrency: CONCURRENCY,
  rawKeptDuringOperatorPhase: values['keep-raw'] === true,
  operatorPhaseOnFreshControlPlane: !SAME_CLUSTER && !values['skip-raw'],
  operatorCode: values['operator-code'],
  kwokPerNode: !values['one-kwok'],
  hpaController: !values['no-hpa-controller'],
  apiserverGogc: APISERVER_GOGC,
  namespaces: NAMESPACES,
  renice: first.reniced,
};
try {
  // (a) raw baseline: the CRs, then exactly the children the operator renders, applied by a plain client.
  if (!values['skip-raw']) {
    const rawNs = spread('bench-raw');
    for (const ns of rawNs.all) await kubectlOk(cluster, ['create', 'namespace', ns]);
    let rawWrites = 0;
    const rawShares = cpuShares({ ...clusterPids(), bench: [process.pid] });
    const rawRequests = await apiServerRequests(cluster);
    const t0 = performance.now();
    const crs = new Map<string, VA>();
    await pool(names, CONCURRENCY, async (name) => {
      crs.set(name, await rest.apply(voiceAgent(name, rawNs.of(name)), 'callfleet-bench'));
      rawWrites++;
    });
    const children: KubernetesObject[] = [];
    for (const name of names) {
      const parsed = parseVoiceAgent(crs.get(name));
      if (!parsed.ok) throw new Error(`${name}: ${JSON.stringify(parsed.issues)}`);
      const rendered = renderVoiceAgent(parsed.value, {});
      if (!rendered.ok) throw new Error(`${name}: ${rendered.error.message}`);
      // The operator sets the Deployment's replicas through the scale subresource (the rendered one has
      // none): the raw client writes them in the object, so both run the same pods.
      children.push(
        ...rendered.objects
          .map(normalizeForApply)
          .map((o) => (o.kind === 'Deployment' ? { ...o, spec: { ...(o as VA).spec, replicas: PODS } } : o)),
      );
    }
    await pool(children, CONCURRENCY, async (object) => {
      await rest.apply(object, 'callfleet-bench');
      rawWrites++;
    });
    const applyMs = performance.now() - t0;
    log(`raw: ${rawWrites} objects applied in ${round(applyMs, 0)} ms`);
    const ready = await until('raw Deployments available', t0, COUNT, async () => {
      const list = await listIn<Deploy>(rest, '/apis/apps/v1', 'deployments', rawNs.all);
      return list.filter(deploymentAvailable).length;
    });
    log(`raw: all Deployments available after ${ready.allMs} ms`);
    result.raw = {
      objects: rawWrites,
      applyMs: round(applyMs, 0),
      allAvailableMs: ready.allMs,
      firstAvailableMs: ready.firstMs,
      halfAvailableMs: ready.halfMs,
      rollout: rolloutWork(rawShares(ready.allMs), rawRequests, await apiServerRequests(cluster)),
    };
    if (!SAME_CLUSTER) {
      for (const m of cluster.processes.values()) keepLog(m.logFile);
      await cluster.stop();
      ({ started: cluster, rest } = await startControlPlane());
      log('operator phase: on a fresh control plane');
    } else if (!values['keep-raw']) {
      const deleteT0 = performance.now();
      await kubectlOk(cluster, ['delete', 'namespace', ...rawNs.all, '--wait=true', '--timeout=1800s']);
      log(`raw namespace deleted in ${round(performance.now() - deleteT0, 0)} ms`);
    }
  }

  // (b) the operator, with the operator link; the simulator serves every pod's internal door.
  const opNs = spread('bench-operator');
  for (const ns of opNs.all) await createNamespace(cluster, ns);
  const noticePort = await freePort();
  const inspectPort = await freePort();
  const memory =
    operatorMemoryBytes === undefined
      ? undefined
      : createMemoryCgroup(`callfleet-bench-operator-${process.pid}`, operatorMemoryBytes);
  const operator = await startOperator(
    cluster,
    [
      // Several namespaces: watched cluster-wide (one stream per kind), as an operator of a platform is.
      ...(NAMESPACES === 1 ? [`--namespace=${opNs.all[0]}`] : []),
      `--concurrency=${CONCURRENCY}`,
      `--notice-addr=127.0.0.1:${noticePort}`,
      `--notice-url=http://127.0.0.1:${noticePort}/notices`,
      '--call-poll=60',
    ],
    'operator',
    {
      memory,
      ...(values['operator-code'] === 'js' ? { binary: join(imageJs(), 'bin/callfleet.js') } : {}),
      // The inspector (loopback only) lets the benchmark measure the live heap (after a full collection).
      env: {
        NODE_OPTIONS: `${process.env.OPERATOR_NODE_OPTIONS ?? OPERATOR_NODE_OPTIONS} --inspect=127.0.0.1:${inspectPort}`,
      },
    },
  );
  const latencies = { busy: [] as number[], idle: [] as number[] };
  // When the slowest busy marks happened (seconds into the churn): clustered or spread.
  const busyAt: { atS: number; ms: number }[] = [];
  let measuring = false;
  let churnT0 = 0;
  const fleet = new GatewayFleet({
    kc: cluster.kc,
    namespaces: opNs.all,
    noticeUrl: `http://127.0.0.1:${noticePort}/notices`,
    onLatency: (edge, ms) => {
      if (!measuring) return;
      latencies[edge].push(ms);
      if (edge === 'busy')
        busyAt.push({ atS: round((performance.now() - churnT0) / 1000, 1), ms: round(ms, 0) });
    },
  });
  try {
    await waitFor('operator caches synced', async () => {
      const res = await fetch(operator.metricsUrl.replace('/metrics', '/readyz'));
      return res.ok && (await operator.metric('callfleet_operator_leader')) === 1;
    });
    await new Promise((r) => setTimeout(r, 2000));
    const pid = operator.process.child.pid;
    const idle = residentMemoryMb(pid);
    const idleText = await metricsText(operator.metricsUrl);
    const idleHeap = heapOf(idleText);
    await fleet.start();

    const opShares = cpuShares({ ...clusterPids(), operator: [pid], bench: [process.pid] });
    const opRequests = await apiServerRequests(cluster);
    const t0 = performance.now();
    await pool(names, 32, async (name) => {
      const ns = opNs.of(name);
      await rest.create(`/apis/callfleet.io/v1alpha1/namespaces/${ns}/voiceagents`, voiceAgent(name, ns));
    });
    const createMs = performance.now() - t0;
    log(`operator: ${COUNT} VoiceAgents created in ${round(createMs, 0)} ms`);
    const ready = await until('VoiceAgents Ready', t0, COUNT, async () => {
      const list = await listIn<VAStatus>(rest, '/apis/callfleet.io/v1alpha1', 'voiceagents', opNs.all);
      return list.filter(voiceAgentReady).length;
    });
    log(`operator: all VoiceAgents Ready after ${ready.allMs} ms`);
    const rollout = rolloutWork(opShares(ready.allMs), opRequests, await apiServerRequests(cluster));
    const atReady = residentMemoryMb(pid);
    const readyText = await metricsText(operator.metricsUrl);
    const readyHeap = heapOf(readyText);
    await waitFor(
      `simulator serving ${TOTAL_PODS} pods`,
      async () => fleet.serving().length >= TOTAL_PODS,
      600_000,
      1000,
    );
    // Let the backstop poll see every pod once, and trailing status writes finish.
    await new Promise((r) => setTimeout(r, 20_000));

    // (c) churn: calls arrive (Poisson, CALL_RATE/s over the fleet) and last ~CALL_SECONDS (exponential).
    const before = await metricsText(operator.metricsUrl);
    const apiServerBefore = await apiServerRequests(cluster);
    const cpuBefore = cpuSeconds(pid);
    // Who holds the cores during the churn: the control plane's processes, this process, the operator.
    const shares = cpuShares({ ...clusterPids(), operator: [pid], bench: [process.pid] });
    // Where a slow mark waits: this process's own event loop (the simulator and the clock), the
    // operator's (its lag, sampled every 10 s), or the API server (the operator's mark-write time).
    const benchLoop = monitorEventLoopDelay({ resolution: 10 });
    benchLoop.enable();
    const operatorLagMs: number[] = [];
    const lagSampler = setInterval(() => {
      metricsText(operator.metricsUrl)
        .then((t) =>
          operatorLagMs.push(
            round(sumMetric(t, 'callfleet_operator_nodejs_eventloop_lag_max_seconds') * 1000, 0),
          ),
        )
        .catch(() => undefined);
    }, 10_000);
    const stopProfile = values['cpu-profile'] ? await startCpuProfile(inspectPort) : undefined;
    churnT0 = performance.now();
    result.churnStartedAt = new Date().toISOString();
    measuring = true;
    let placed = 0;
    let refused = 0;
    const timers = new Set<NodeJS.Timeout>();
    const pods = fleet.serving();
    await new Promise<void>((resolve) => {
      const arrive = () => {
        if (performance.now() - churnT0 >= CHURN_MS) return resolve();
        const pod = pods[Math.floor(Math.random() * pods.length)] as SimPod;
        if (fleet.accepts(pod)) {
          fleet.startCall(pod, `CA${placed.toString(16).padStart(32, '0')}`);
          placed++;
          const duration = Math.min(-Math.log(1 - Math.random()) * CALL_SECONDS * 1000, CALL_SECONDS * 5000);
          const timer = setTimeout(() => {
            timers.delete(timer);
            fleet.endCall(pod);
          }, duration);
          timers.add(timer);
        } else refused++;
        setTimeout(arrive, -Math.log(1 - Math.random()) * (1000 / CALL_RATE));
      };
      arrive();
    });
    const churnMs = performance.now() - churnT0;
    const cpuUnderChurn = (cpuSeconds(pid) - cpuBefore) / (churnMs / 1000);
    const cpuShareByProcess = shares(churnMs);
    measuring = false;
    clearInterval(lagSampler);
    const profile = (await stopProfile?.()) as CpuProfile | undefined;
    if (profile && values['cpu-profile']) writeFileSync(values['cpu-profile'], JSON.stringify(profile));
    benchLoop.disable();
    const after = await metricsText(operator.metricsUrl);
    const apiServerUnderChurn = countsSince(apiServerBefore, await apiServerRequests(cluster));
    const delta = (name: string, labels: Record<string, string> = {}) =>
      sumMetric(after, name, labels) - sumMetric(before, name, labels);
    const minutes = churnMs / 60_000;
    const writes = delta('callfleet_operator_api_writes_total');
    const marks = delta('callfleet_operator_pod_marks_total');
    const atEnd = residentMemoryMb(pid);
    // The cache sizes: a scrape starts a measurement when the last is a minute old, and the gauges take
    // its result a moment later (it yields to the event loop as it goes).
    await new Promise((r) => setTimeout(r, 3000));
    const text = await metricsText(operator.metricsUrl);
    const cacheKinds = [...text.matchAll(/^callfleet_operator_cache_objects\{kind="([^"]+)"\} (\S+)/gm)].map(
      (m) => m[1] as string,
    );
    const cache = Object.fromEntries(
      cacheKinds.map((kind) => [
        kind,
        {
          objects: sumMetric(text, 'callfleet_operator_cache_objects', { kind }),
          jsonMb: mb(sumMetric(text, 'callfleet_operator_cache_json_bytes', { kind })),
        },
      ]),
    );
    const cachedObjects = sumMetric(text, 'callfleet_operator_cache_objects');
    const cachedJsonBytes = sumMetric(text, 'callfleet_operator_cache_json_bytes');
    // Last, once the churn is measured: the full collection it asks for pauses the operator.
    const liveHeapAtEndMb = mb(await liveHeapBytes(inspectPort));
    for (const t of timers) clearTimeout(t);
    const busy = latencies.busy.sort((a, b) => a - b);
    const idleEdges = latencies.idle.sort((a, b) => a - b);
    const peakRssMb = Math.max(atReady.peakRssMb, atEnd.peakRssMb);
    result.loadAverage1mAtEnd = round(loadavg()[0] ?? 0, 1);
    result.operator = {
      createMs: round(createMs, 0),
      allReadyMs: ready.allMs,
      firstReadyMs: ready.firstMs,
      halfReadyMs: ready.halfMs,
      idleRssMb: idle.rssMb,
      idleHeapMb: idleHeap,
      rssAtReadyMb: atReady.rssMb,
      // What the operator wrote from the first VoiceAgent to all Ready, by verb and resource.
      apiWritesToAllReady: writesByVerbAndResource(idleText, readyText),
      rollout,
      peakRssMb,
      rssAtEndMb: atEnd.rssMb,
      heapAtReadyMb: readyHeap,
      heapAtEndMb: heapOf(after),
    };
    result.churn = {
      seconds: round(churnMs / 1000, 0),
      callRatePerSecond: CALL_RATE,
      meanCallSeconds: CALL_SECONDS,
      callsPlaced: placed,
      callsRefusedByFullOrRetiredPods: refused,
      liveCallsAtEnd: fleet.serving().reduce((n, p) => n + p.live, 0),
      busyPodsAtEnd: fleet.serving().filter((p) => p.live > 0).length,
      cutCalls: [...fleet.pods.values()].reduce((n, p) => n + p.cut, 0),
      noticesApplied: delta('callfleet_operator_notices_total', { result: 'applied' }),
      noticesRefused:
        delta('callfleet_operator_notices_total') -
        delta('callfleet_operator_notices_total', { result: 'applied' }) -
        delta('callfleet_operator_notices_total', { result: 'unchanged' }),
      apiWritesPerMinute: round(writes / minutes, 1),
      podMarkWritesPerMinute: round(marks / minutes, 1),
      apiWritesPerMinuteBeyondMarks: round((writes - marks) / minutes, 1),
      // Everything the API server served under churn, from every client: what the marks compete with.
      apiServerRequestsPerMinute: largestRates(apiServerUnderChurn, minutes, 1),
      apiWritesBeyondMarksByVerb: Object.fromEntries(
        ['apply', 'create', 'update', 'delete'].map((verb) => [
          verb,
          delta('callfleet_operator_api_writes_total', { verb }),
        ]),
      ),
      statusPolls: delta('callfleet_operator_call_polls_total'),
      reconciles: delta('callfleet_operator_reconciles_total'),
      slowestBusyMarks: [...busyAt].sort((a, b) => b.ms - a.ms).slice(0, 12),
      // Busy-mark latency per 10 s of churn: a steady backlog, or spikes.
      busyMarkTimeline: timeline(busyAt, 10),
      markWriteMs: Object.fromEntries(
        ['notice', 'poll'].map((trigger) => {
          const q = (p: number) =>
            histogramQuantile(before, after, 'callfleet_operator_pod_mark_duration_seconds', p, { trigger });
          return [trigger, { p50: q(0.5), p99: q(0.99) }];
        }),
      ),
      operatorEventLoopLagMaxMsPer10s: operatorLagMs,
      ...(profile ? { operatorCpuProfileTop: topSelfTime(profile, 25) } : {}),
      benchEventLoopDelayMs: {
        p99: round(benchLoop.percentile(99) / 1e6, 1),
        max: round(benchLoop.max / 1e6, 1),
      },
      watchRestartsByReason: Object.fromEntries(
        ['resync', 'watchdog', 'gone', 'error'].map((reason) => [
          reason,
          delta('callfleet_operator_watch_restarts_total', { reason }),
        ]),
      ),
      busyMarkLatencyMs: {
        samples: busy.length,
        p50: percentile(busy, 50),
        p99: percentile(busy, 99),
        max: percentile(busy, 100),
      },
      idleMarkLatencyMs: {
        samples: idleEdges.length,
        p50: percentile(idleEdges, 50),
        p99: percentile(idleEdges, 99),
      },
      operatorCpuShareOfOneCore: round(cpuUnderChurn, 3),
      cpuShareByProcess,
    };
    result.memory = {
      cachedObjects,
      cachedJsonMb: mb(cachedJsonBytes),
      cache,
      peakRssMb,
      peakRssOverCachedJson: round((peakRssMb * 1024 * 1024) / Math.max(cachedJsonBytes, 1), 2),
      rssGrowthOverIdleMb: round(peakRssMb - idle.rssMb, 1),
      rssGrowthOverCachedJson: round(
        ((peakRssMb - idle.rssMb) * 1024 * 1024) / Math.max(cachedJsonBytes, 1),
        2,
      ),
      rssPerCachedObjectKb: round((peakRssMb * 1024) / Math.max(cachedObjects, 1), 2),
      rssGrowthPerCachedObjectKb: round(((peakRssMb - idle.rssMb) * 1024) / Math.max(cachedObjects, 1), 2),
      // What the heap holds after a full collection, at the end. Not taken at idle too: a run that did
      // (eleventh session: idle 29.3 MB) was slower throughout, so the operator is left alone until the end.
      liveHeapAtEndMb,
      liveHeapOverCachedJson: round((liveHeapAtEndMb * 1024 * 1024) / Math.max(cachedJsonBytes, 1), 2),
    };
    const raw = result.raw as { allAvailableMs: number; firstAvailableMs: number } | undefined;
    if (raw) {
      result.ratio = {
        allReadyOperatorOverRaw: round(ready.allMs / raw.allAvailableMs, 2),
        firstReadyOperatorOverRaw: round(ready.firstMs / raw.firstAvailableMs, 2),
      };
    }
  } finally {
    await fleet.stop();
    await operator.stop();
    if (memory) {
      // A kill for memory ends the run early (the operator's metrics stop answering): it is named here.
      result.operatorMemory = {
        limit: OPERATOR_MEMORY,
        oomKills: memory.oomKills(),
        cgroupPeakMb: mb(memory.peakBytes() ?? 0),
      };
      if (memory.oomKills() > 0) log(`operator: killed for exceeding its ${OPERATOR_MEMORY} memory limit`);
      memory.release();
    }
    keepLog(operator.logFile);
  }
  const json = JSON.stringify(result, null, 2);
  process.stdout.write(`${json}\n`);
  mkdirSync(`${root}bench-results`, { recursive: true });
  writeFileSync(`${root}bench-results/operator-scale-${TOTAL_PODS}.json`, `${json}\n`);
} finally {
  // The control plane's logs (API server traces of slow requests, etcd warnings).
  for (const m of cluster.processes.values()) keepLog(m.logFile);
  await cluster.stop();
}
