// `make demo`: callfleet's main job on one machine. A detached helper (daemon.ts) owns a real control
// plane, a process kubelet and nginx; this script installs the Helm chart (the chart's operator pods run
// as real processes with their ServiceAccount's token), applies a MemoryStore (real PostgreSQL) and a
// VoiceAgent, places simulated Twilio calls through nginx (a second call from the same number is greeted
// with memory of the first), rolls the gateways under live calls, and prints a summary. Everything stays
// up for poking until `make demo-down`. CALLFLEET_DEMO_DOWN=1 tears it down after the summary (tests).
import { spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { toolPath } from '../cluster/tools.ts';
import {
  type CallResult,
  placeCall,
  type SimulatedCall,
  speechPattern,
  startCall,
} from '../simulator/call.ts';
import { classifyGreeting, type Greeting } from '../simulator/greeting.ts';
import { kubectl } from '../support/cluster.ts';
import { sumMetric } from '../support/operator.ts';
import { agentSetup, memoryStoreDoc, type Provider, voiceAgentDoc } from './manifests.ts';
import { removePodIps } from './pod-ips.ts';
import {
  alive,
  DEMO_AGENT,
  DEMO_NAMESPACE,
  type DemoState,
  daemonLog,
  OPERATOR_NAMESPACE,
  readState,
  runDir,
  stateFile,
  writeState,
} from './state.ts';

const root = new URL('../../', import.meta.url).pathname;
const started = Date.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s`;
const step = (message: string) => console.log(`[${elapsed()}] ${message}`);
const detail = (message: string) => console.log(`          ${message}`);

const AUTH_TOKEN = 'demo-auth-token';
const ACCOUNT_SID = 'AC0000000000000000000000000000demo';
const PUBLIC_BASE_URL = 'https://calls.demo.callfleet.local';
const CALLER = '+14155550101';
const OTHER_CALLER = '+14155550102';
const LIVE_CALLS = 8;

class DemoError extends Error {}

// ---------------------------------------------------------------- kubectl / helm ----

let kubeconfig = '';

async function k(args: string[], input?: string): Promise<string> {
  const r = await kubectl(kubeconfig, args, input);
  if (r.code !== 0) throw new DemoError(`kubectl ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

async function kJson<T>(args: string[]): Promise<T> {
  return JSON.parse(await k([...args, '-o', 'json'])) as T;
}

function helm(args: string[]): Promise<string> {
  const home = join(runDir, 'helm');
  return new Promise((resolve, reject) => {
    const child = spawn(toolPath('helm'), [...args, '--kubeconfig', kubeconfig], {
      env: {
        ...process.env,
        HELM_CACHE_HOME: join(home, 'cache'),
        HELM_CONFIG_HOME: join(home, 'config'),
        HELM_DATA_HOME: join(home, 'data'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new DemoError(`helm ${args.join(' ')}: ${out.trim()}`)),
    );
  });
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(300);
  }
  throw new DemoError(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? `: ${last}` : ''}`);
}

interface Pod {
  metadata: { name: string; namespace: string; deletionTimestamp?: string; labels?: Record<string, string> };
  spec: { nodeName?: string };
  status: {
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { containerID?: string }[];
  };
}
interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}
interface Resource {
  metadata: { generation?: number };
  status?: { conditions?: Condition[]; observedGeneration?: number; [k: string]: unknown };
}

const podReady = (p: Pod) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

async function pods(namespace: string, selector: string): Promise<Pod[]> {
  return (await kJson<{ items: Pod[] }>(['get', 'pods', '-n', namespace, '-l', selector])).items;
}

const gatewaySelector = `callfleet.io/voiceagent=${DEMO_AGENT}`;

async function waitReady(kind: string, name: string, timeoutMs: number): Promise<Resource> {
  let last: Condition | undefined;
  try {
    return await until(
      `${kind}/${name} Ready`,
      async () => {
        const object = await kJson<Resource>(['get', kind, name, '-n', DEMO_NAMESPACE]);
        last = object.status?.conditions?.find((c) => c.type === 'Ready');
        const current = object.status?.observedGeneration === object.metadata.generation;
        return last?.status === 'True' && current ? object : undefined;
      },
      timeoutMs,
    );
  } catch (error) {
    throw new DemoError(`${String(error)} (last Ready condition: ${JSON.stringify(last ?? null)})`);
  }
}

// ---------------------------------------------------------------- the helper process ----

async function down(quiet = false): Promise<void> {
  const state = readState();
  if (!state) {
    if (!quiet) console.log('no demo is running');
    return;
  }
  if (alive(state.daemonPid)) {
    process.kill(state.daemonPid, 'SIGUSR2');
    const deadline = Date.now() + 60_000;
    while (alive(state.daemonPid) && Date.now() < deadline) await sleep(200);
    if (alive(state.daemonPid)) process.kill(state.daemonPid, 'SIGKILL');
    while (alive(state.daemonPid)) await sleep(100);
  }
  const removed = await removePodIps(state.daemonPid);
  if (state.clusterDir) rmSync(state.clusterDir, { recursive: true, force: true });
  rmSync(stateFile, { force: true });
  if (!quiet)
    console.log(`demo stopped (control plane, process kubelet, nginx; ${removed} pod IPs removed from lo)`);
}

async function startDaemon(): Promise<DemoState> {
  const previous = readState();
  if (previous) {
    step('a previous demo is still around: stopping it first');
    await down(true);
  }
  rmSync(daemonLog, { force: true });
  const logFd = openSync(daemonLog, 'a');
  const child = spawn(process.execPath, [join(root, 'test/demo/daemon.ts')], {
    detached: true,
    stdio: ['ignore', logFd, logFd],
    cwd: root,
  });
  child.unref();
  const pid = child.pid ?? 0;
  const state = await until(
    'the control plane',
    async () => {
      const s = readState();
      if (s?.daemonPid === pid && s.stage === 'failed') throw new DemoError(s.error);
      if (!alive(pid)) throw new DemoError(`the demo helper exited; see ${daemonLog}`);
      return s?.daemonPid === pid && s.stage !== 'starting' ? s : undefined;
    },
    180_000,
  ).catch((error: unknown) => {
    const tail = existsSync(daemonLog)
      ? readFileSync(daemonLog, 'utf8').split('\n').slice(-30).join('\n')
      : '';
    throw new DemoError(`${String(error)}\n${tail}`);
  });
  return state;
}

// ---------------------------------------------------------------- calls ----

interface CallRecordRow {
  label: string;
  from: string;
  result: CallResult;
  greeting: Greeting;
}

const calls: CallRecordRow[] = [];

async function gatewayMetric(name: string, labels: Record<string, string> = {}): Promise<number> {
  let total = 0;
  for (const pod of await pods(DEMO_NAMESPACE, gatewaySelector)) {
    if (!pod.status.podIP || pod.metadata.deletionTimestamp) continue;
    const text = await (await fetch(`http://${pod.status.podIP}:9090/metrics`)).text();
    total += sumMetric(text, name, labels);
  }
  return total;
}

async function call(door: string, label: string, from: string): Promise<CallRecordRow> {
  const result = await placeCall({
    gatewayUrl: door,
    publicBaseUrl: PUBLIC_BASE_URL,
    authToken: AUTH_TOKEN,
    accountSid: ACCOUNT_SID,
    from,
    audio: speechPattern(2000),
    hangupAfterMs: 3500,
    record: true,
  });
  const row = { label, from, result, greeting: classifyGreeting(result.agentAudio) };
  calls.push(row);
  const heard = row.greeting === 'welcome-back' ? 'welcome-back chime (memory)' : `${row.greeting} greeting`;
  detail(
    `${label} from ${maskPhone(from)}: ${result.kind}, ended by ${result.endedBy}, first audio ${Math.round(result.firstAudioMs ?? -1)} ms, heard the ${heard}`,
  );
  if (result.kind !== 'stream') throw new DemoError(`${label} did not stream: ${result.twiml}`);
  return row;
}

/** The call record of a finished call is written after the call; wait until no gateway has one queued. */
async function memoryFlushed(callsSoFar: number): Promise<void> {
  await until(
    'the call record written to the MemoryStore',
    async () => {
      const ended = await gatewayMetric('callfleet_calls_total');
      const pending = await gatewayMetric('callfleet_memory_pending_writes');
      return ended >= callsSoFar && pending === 0 ? true : undefined;
    },
    30_000,
  );
}

function maskPhone(phone: string): string {
  return `${phone.slice(0, 2)}******${phone.slice(-4)}`;
}

// ---------------------------------------------------------------- the demo ----

async function demo(): Promise<number> {
  const provider: Provider = agentSetup(process.env);
  console.log('callfleet demo: the whole system on one machine\n');

  step(
    'starting the control plane (etcd, kube-apiserver, controller-manager, scheduler) and the process kubelet',
  );
  const state = await startDaemon();
  kubeconfig = state.kubeconfigPath ?? '';
  detail(`KUBECONFIG=${kubeconfig} (helper pid ${state.daemonPid}, state in ${stateFile})`);

  step('helm install callfleet charts/callfleet (CRDs, RBAC, the operator Deployment with 2 replicas)');
  await helm([
    'install',
    'callfleet',
    join(root, 'charts/callfleet'),
    '-n',
    OPERATOR_NAMESPACE,
    '--create-namespace',
    '--wait',
    '--timeout',
    '180s',
  ]);
  const operatorPods = await pods(OPERATOR_NAMESPACE, 'app.kubernetes.io/name=callfleet');
  const lease = await until(
    'an operator replica to lead',
    async () => {
      const l = await kJson<{ spec: { holderIdentity?: string } }>([
        'get',
        'lease',
        'callfleet-operator',
        '-n',
        OPERATOR_NAMESPACE,
      ]);
      return l.spec.holderIdentity || undefined;
    },
    60_000,
  );
  // The operator's identity is `<hostname>-<pid>`; the process kubelet's containerID is process://<pid>.
  const leaderPod = (p: Pod) =>
    p.status.containerStatuses?.[0]?.containerID?.replace('process://', '-') ?? '';
  const isLeader = (p: Pod) => lease.endsWith(leaderPod(p)) && leaderPod(p) !== '';
  for (const p of operatorPods)
    detail(
      `${p.metadata.name} on ${p.spec.nodeName} (${p.status.podIP}) ${isLeader(p) ? 'leader' : 'standby'}`,
    );

  step(
    `MemoryStore "callers" (PostgreSQL run by the process kubelet) and VoiceAgent "${DEMO_AGENT}" (${provider.name})`,
  );
  await k(['create', 'namespace', DEMO_NAMESPACE]);
  await k(
    ['apply', '-n', DEMO_NAMESPACE, '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'twilio' },
          stringData: { 'account-sid': ACCOUNT_SID, 'auth-token': AUTH_TOKEN },
        },
        ...provider.secrets,
        memoryStoreDoc(),
        voiceAgentDoc(provider, PUBLIC_BASE_URL),
      ],
    }),
  );
  const t0 = Date.now();
  await waitReady('memorystore', 'callers', 180_000);
  detail(`MemoryStore callers Ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  await waitReady('voiceagent', DEMO_AGENT, 180_000);
  detail(`VoiceAgent ${DEMO_AGENT} Ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const ready = await until(
    'the front door (nginx)',
    async () => {
      const s = readState();
      return s?.stage === 'ready' && s.frontDoorUrl ? s.frontDoorUrl : undefined;
    },
    60_000,
  );
  const door = ready;
  detail(`front door (nginx) at ${door}, Host ${new URL(PUBLIC_BASE_URL).host}`);
  await until(
    'the memory of both gateways',
    async () => ((await gatewayMetric('callfleet_memory_up')) >= 2 ? true : undefined),
    60_000,
  );

  step('three calls through the front door');
  // nginx answers 503 until it has the gateways' endpoints (an unsigned webhook then gets the gateway's 403).
  await until(
    'nginx to route to the gateways',
    async () => {
      const res = await fetch(`${door}/twilio/voice`, { method: 'POST' });
      return res.status !== 503 && res.status !== 502 ? true : undefined;
    },
    30_000,
  );
  await call(door, 'call 1', CALLER);
  await memoryFlushed(1);
  await call(door, 'call 2', CALLER);
  await call(door, 'call 3', OTHER_CALLER);
  await memoryFlushed(3);
  const welcomed = calls.filter((c) => c.greeting === 'welcome-back').length;
  if (provider.name === 'echo' && calls[1]?.greeting !== 'welcome-back')
    throw new DemoError('call 2 was not greeted with memory of call 1');

  step(`rolling update under ${LIVE_CALLS} live calls (spec.calls.silenceTimeoutSeconds 20 → 30)`);
  const before = (await pods(DEMO_NAMESPACE, gatewaySelector)).map((p) => p.metadata.name);
  const live: SimulatedCall[] = [];
  for (let i = 0; i < LIVE_CALLS; i++) {
    live.push(
      await startCall({
        gatewayUrl: door,
        publicBaseUrl: PUBLIC_BASE_URL,
        authToken: AUTH_TOKEN,
        accountSid: ACCOUNT_SID,
        from: `+1415555020${i}`,
        audio: speechPattern(20_000),
        hangupAfterMs: 20_000,
        record: true,
      }),
    );
  }
  const activeAtPatch = await gatewayMetric('callfleet_active_calls');
  detail(`${activeAtPatch} calls live on ${before.length} gateway pods; patching the VoiceAgent`);
  const rolloutStart = Date.now();
  await k([
    'patch',
    'voiceagent',
    DEMO_AGENT,
    '-n',
    DEMO_NAMESPACE,
    '--type=merge',
    '-p',
    JSON.stringify({ spec: { calls: { silenceTimeoutSeconds: 30 } } }),
  ]);
  await k(['rollout', 'status', `deployment/${DEMO_AGENT}`, '-n', DEMO_NAMESPACE, '--timeout=180s']);
  const rolloutMs = Date.now() - rolloutStart;
  const after = (await pods(DEMO_NAMESPACE, gatewaySelector)).filter(
    (p) => !p.metadata.deletionTimestamp && podReady(p),
  );
  const draining = (await pods(DEMO_NAMESPACE, gatewaySelector)).filter((p) => p.metadata.deletionTimestamp);
  detail(
    `rollout done in ${(rolloutMs / 1000).toFixed(1)} s: new pods ${after.map((p) => p.metadata.name).join(', ')}; ${draining.length} old pods draining their calls`,
  );
  const results = await Promise.all(live.map((c) => c.done));
  for (const [i, result] of results.entries()) {
    calls.push({
      label: `live ${i + 1}`,
      from: `+1415555020${i}`,
      result,
      greeting: classifyGreeting(result.agentAudio),
    });
  }
  await until(
    'the old gateway pods to finish draining and exit',
    async () => {
      const names = (await pods(DEMO_NAMESPACE, gatewaySelector)).map((p) => p.metadata.name);
      return before.every((n) => !names.includes(n)) ? true : undefined;
    },
    120_000,
  );
  const liveCut = results.filter((r) => r.endedBy !== 'caller').length;
  detail(`${LIVE_CALLS - liveCut} of ${LIVE_CALLS} live calls ended by the caller, ${liveCut} cut`);

  // ------------------------------------------------------------ summary ----
  const allPods = [
    ...(await pods(OPERATOR_NAMESPACE, 'app.kubernetes.io/name=callfleet')),
    ...(await kJson<{ items: Pod[] }>(['get', 'pods', '-n', DEMO_NAMESPACE])).items,
  ];
  const firstAudio = calls
    .map((c) => c.result.firstAudioMs)
    .filter((v): v is number => v !== undefined)
    .sort((a, b) => a - b);
  const pct = (p: number) =>
    Math.round(firstAudio[Math.min(firstAudio.length - 1, Math.floor(p * firstAudio.length))] ?? 0);
  const completed = calls.filter((c) => c.result.kind === 'stream' && c.result.endedBy === 'caller').length;
  const cut = calls.filter((c) => c.result.kind === 'stream' && c.result.endedBy !== 'caller').length;
  const summary = {
    provider: provider.name,
    pods: allPods.length,
    callsPlaced: calls.length,
    callsCompleted: completed,
    callsCut: cut,
    firstAudioMsP50: pct(0.5),
    firstAudioMsMax: Math.round(firstAudio.at(-1) ?? 0),
    memoryHits: welcomed,
    rolloutSeconds: Number((rolloutMs / 1000).toFixed(1)),
    totalSeconds: Number(((Date.now() - started) / 1000).toFixed(1)),
  };
  writeState({ ...(readState() as DemoState), summary });

  console.log('\n== callfleet demo summary ==');
  table(
    ['POD', 'NAMESPACE', 'NODE', 'POD IP', 'READY'],
    allPods.map((p) => [
      p.metadata.name,
      p.metadata.namespace,
      p.spec.nodeName ?? '',
      p.status.podIP ?? '',
      podReady(p) ? 'yes' : 'no',
    ]),
  );
  console.log('');
  table(
    ['', ''],
    [
      ['agent backend', provider.name],
      ['calls placed', String(summary.callsPlaced)],
      ['calls completed', String(summary.callsCompleted)],
      ['calls cut', String(summary.callsCut)],
      ['first audio p50 / max', `${summary.firstAudioMsP50} ms / ${summary.firstAudioMsMax} ms`],
      [
        'memory hits',
        provider.name === 'echo'
          ? `${summary.memoryHits} (call 2 greeted with the welcome-back chime)`
          : 'n/a (the welcome-back chime is the echo backend; ask the agent what it remembers)',
      ],
      ['rolling update', `${summary.rolloutSeconds} s under ${LIVE_CALLS} live calls, ${liveCut} cut`],
      ['demo time', `${summary.totalSeconds} s`],
    ],
    false,
  );
  const operatorLeader = operatorPods.find(isLeader) ?? operatorPods[0];
  const gateway = after[0];
  console.log(`
Poke at it (it keeps running until \`make demo-down\`):
  export KUBECONFIG=${kubeconfig}
  kubectl get va,mstore,pods -n ${DEMO_NAMESPACE}
  kubectl get pods -n ${OPERATOR_NAMESPACE}; kubectl get lease callfleet-operator -n ${OPERATOR_NAMESPACE}
  curl -s http://${operatorLeader?.status.podIP}:8081/metrics | grep ^callfleet_     # operator (leader)
  curl -s http://${gateway?.status.podIP}:9090/metrics | grep ^callfleet_     # a gateway
  TWILIO_AUTH_TOKEN=${AUTH_TOKEN} node bin/callfleet.ts call --url ${door} \\
      --public-base-url ${PUBLIC_BASE_URL} --from ${CALLER} --record /tmp/call.wav
  make demo-down
Logs: ${daemonLog} and ${state.kubeletDir}/logs/`);
  return cut === 0 && completed === calls.length ? 0 : 1;
}

function table(header: string[], rows: string[][], showHeader = true): void {
  const all = showHeader ? [header, ...rows] : rows;
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  for (const r of all)
    console.log(
      `  ${r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd()}`,
    );
}

// ---------------------------------------------------------------- main ----

const { positionals } = parseArgs({ allowPositionals: true });
const command = positionals[0] ?? 'up';
if (command === 'down') {
  await down();
} else if (command === 'up') {
  let code = 1;
  try {
    code = await demo();
  } catch (error) {
    console.error(
      `\ndemo failed: ${error instanceof DemoError ? error.message : String((error as Error).stack)}`,
    );
    console.error(`logs: ${daemonLog}; pods' logs under ${readState()?.kubeletDir ?? runDir}/logs/`);
    code = 1;
  }
  if (process.env.CALLFLEET_DEMO_DOWN === '1') {
    step('CALLFLEET_DEMO_DOWN=1: stopping everything');
    await down(true);
  }
  process.exit(code);
} else {
  console.error('usage: node test/demo/demo.ts [up|down]');
  process.exit(2);
}
