// bench:gateway — N simulated calls through the gateway to a fake backend, beside a raw ws echo
// server with the same message counts. Server and load generator are pinned to different cores.
// Added latency is reported two ways: through-gateway transit minus the raw echo's transit at the
// same load (external), and the gateway's own relay histogram plus its event-loop delay over the
// window (internal, independent of the load generator). Method and figures: docs/benchmarks.md.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;
const N = Number(process.env.BENCH_CALLS ?? 200);
// Scheduling of the server and load generator. The machine may be shared, and with autogroup
// scheduling `nice` does not reach across sessions, so by default (when permitted) both run
// SCHED_RR: a ready process then runs at once instead of waiting out other work's time slices,
// as on the dedicated core the spec assumes. Our processes stay far below a core, and the
// kernel's RT throttle keeps 5% for everyone else. BENCH_SCHED=nice|none for the alternatives.
const SCHED = process.env.BENCH_SCHED ?? 'rr';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CLK_TCK = 100;
const LOOP_SAMPLE_MS = 10;
const round = (x: number, d = 3) => Number(x.toFixed(d));

function freePort(): Promise<number> {
  return new Promise((r) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => r(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

const schedPrefix = ((): string[] => {
  const p = SCHED === 'rr' ? ['chrt', '-r', '10'] : SCHED === 'nice' ? ['nice', '-n', '-10'] : [];
  const [cmd, ...args] = p;
  if (!cmd) return [];
  const r = spawnSync(cmd, [...args, 'true']);
  return r.status === 0 && r.stderr.length === 0 ? p : [];
})();

function pinned(
  core: number,
  args: string[],
  env: Record<string, string> = {},
  stdout: 'pipe' | number = 'pipe',
): ChildProcess {
  const [cmd, ...prefix] = [...schedPrefix, 'taskset', '-c', String(core), process.execPath];
  return spawn(cmd as string, [...prefix, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', stdout, 'inherit'],
  });
}

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

function waitLine(p: ChildProcess, re: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const on = (d: Buffer) => {
      buf += d;
      for (const line of buf.split('\n')) {
        if (re.test(line)) {
          p.stdout?.off('data', on);
          resolve(line);
          return;
        }
      }
    };
    p.stdout?.on('data', on);
    p.once('exit', (c) => reject(new Error(`process exited (${c}) before ${re}`)));
  });
}

interface Percentiles {
  p50: number;
  p99: number;
  max: number;
}
interface LoadResult {
  callerFramesSent: number;
  callerFramesArrived: number;
  agentChunksSent: number;
  agentChunksArrived: number;
  unreadableStamps: number;
  upTransitMs: Percentiles;
  downTransitMs: Percentiles;
  loadGenerator: { cpuUtilisation: number; eventLoopDelayMs: Percentiles };
}

/** Busy jiffies per CPU (everything but idle and iowait), from /proc/stat. */
function busyPerCpu(): number[] {
  return readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .filter((l) => /^cpu\d+ /.test(l))
    .map((l) => {
      const f = l.split(/\s+/).slice(1).map(Number);
      return f.reduce((a, b) => a + b, 0) - (f[3] ?? 0) - (f[4] ?? 0) - (f[8] ?? 0) - (f[9] ?? 0);
    });
}

/** The gateway's relay histogram (cumulative bucket counts by direction) and event-loop delay. */
async function scrape(port: number) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const buckets: Record<string, [number, number][]> = { to_backend: [], to_caller: [] };
  for (const m of text.matchAll(
    /^callfleet_relay_latency_seconds_bucket\{direction="(\w+)",le="([^"]+)"\} (\S+)$/gm,
  )) {
    buckets[m[1] as string]?.push([
      m[2] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[2]) * 1000,
      Number(m[3]),
    ]);
  }
  // prom-client samples the loop every 10 ms (eventLoopMonitoringPrecision) and its figures
  // include that interval: what is left over is the delay.
  const lag = (q: string) => {
    const v = new RegExp(`^callfleet_nodejs_eventloop_lag_${q}_seconds (\\S+)$`, 'm').exec(text)?.[1];
    return round(Math.max(0, Number(v ?? Number.NaN) * 1000 - LOOP_SAMPLE_MS));
  };
  return { buckets, loopDelayMs: { p50: lag('p50'), p99: lag('p99'), max: lag('max') } };
}

/** Percentile of the window's observations (bucket deltas), linear within the bucket. */
function histPercentile(before: [number, number][], after: [number, number][], p: number) {
  const delta = after.map(([le, c], i) => [le, c - (before[i]?.[1] ?? 0)] as [number, number]);
  const total = delta.at(-1)?.[1] ?? 0;
  if (!total) return { ms: 0, bucketUpperMs: 0, count: 0 };
  const rank = (p / 100) * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, c] of delta) {
    if (c >= rank) {
      const upper = Number.isFinite(le) ? le : prevLe;
      const ms = prevLe + ((upper - prevLe) * (rank - prevCount)) / Math.max(1, c - prevCount);
      return { ms: Number(ms.toFixed(4)), bucketUpperMs: le, count: total };
    }
    prevLe = le;
    prevCount = c;
  }
  return { ms: prevLe, bucketUpperMs: prevLe, count: total };
}

async function measure(
  server: ChildProcess,
  mode: 'raw' | 'gateway',
  target: string,
  backendPort = 0,
  /** The gateway's internal port (metrics). */
  metricsPort = 0,
) {
  const pid = server.pid as number;
  const idleRss = rssBytes(pid);
  const load = pinned(1, [
    join(root, 'test/bench/gateway-load.ts'),
    mode,
    target,
    String(N),
    String(SECONDS),
    String(backendPort),
  ]);
  await waitLine(load, /^READY$/);
  const scrape0 = mode === 'gateway' ? await scrape(metricsPort) : undefined;
  const cpu0 = cpuSeconds(pid);
  const loadCpu0 = cpuSeconds(load.pid as number);
  const busy0 = busyPerCpu();
  const t0 = performance.now();
  await waitLine(load, /^MEASURE_END$/);
  const cpu1 = cpuSeconds(pid);
  const loadCpu1 = cpuSeconds(load.pid as number);
  const busy1 = busyPerCpu();
  const wall = (performance.now() - t0) / 1000;
  const scrape1 = mode === 'gateway' ? await scrape(metricsPort) : undefined;
  const rss = rssBytes(pid);
  const result = JSON.parse(await waitLine(load, /^\{/)) as LoadResult;
  const cpu = cpu1 - cpu0;
  const busy = (core: number) => ((busy1[core] ?? 0) - (busy0[core] ?? 0)) / CLK_TCK;
  // CPU used on the two bench cores by everything else on the machine during the window.
  const otherBusy = {
    serverCore: round(Math.max(0, busy(0) - cpu) / wall, 2),
    loadCore: round(Math.max(0, busy(1) - (loadCpu1 - loadCpu0)) / wall, 2),
  };
  let relay: Record<string, unknown> | undefined;
  if (scrape0 && scrape1) {
    const dir = (d: string) => {
      const b0 = scrape0.buckets[d] ?? [];
      const b1 = scrape1.buckets[d] ?? [];
      const p50 = histPercentile(b0, b1, 50);
      const p99 = histPercentile(b0, b1, 99);
      return { messages: p50.count, p50Ms: p50.ms, p99Ms: p99.ms, p99BucketUpperMs: p99.bucketUpperMs };
    };
    relay = {
      toBackend: dir('to_backend'),
      toCaller: dir('to_caller'),
      eventLoopDelayMs: scrape1.loopDelayMs,
    };
  }
  return { cpu, wall, rssPerCall: (rss - idleRss) / N, result, otherBusy, relay };
}

const rawPort = await freePort();
const raw = pinned(0, [join(root, 'test/bench/gateway-raw-echo.ts'), String(rawPort)]);
await waitLine(raw, /LISTENING/);
const rawM = await measure(raw, 'raw', `http://127.0.0.1:${rawPort}`);
raw.kill('SIGKILL');

const gwPort = await freePort();
const gwInternalPort = await freePort();
const backendPort = await freePort();
const cfg = join(tmpdir(), `callfleet-bench-${process.pid}.json`);
writeFileSync(
  cfg,
  JSON.stringify({
    publicBaseUrl: 'https://voice.example.com',
    agent: { provider: 'websocket', websocket: { url: `ws://127.0.0.1:${backendPort}/agent` } },
    calls: { maxConcurrentPerPod: N + 10, maxDurationSeconds: 3600, silenceTimeoutSeconds: 3600 },
  }),
);
// The gateway's logs go to our stderr (a pipe nobody reads would block it once full).
const gw = pinned(
  0,
  [
    ...(process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean),
    join(root, 'bin/callfleet.ts'),
    'gateway',
  ],
  {
    CALLFLEET_GATEWAY_CONFIG: cfg,
    PORT: String(gwPort),
    CALLFLEET_INTERNAL_PORT: String(gwInternalPort),
    HOST: '127.0.0.1',
    TWILIO_AUTH_TOKEN: '12345',
    CALLFLEET_STREAM_KEY: 'bench-stream-key-0123456789abcdefghijklmnop',
    LOG_LEVEL: 'warn',
  },
  2,
);
for (let i = 0; i < 200; i++) {
  try {
    if ((await fetch(`http://127.0.0.1:${gwPort}/health`)).ok) break;
  } catch {}
  await new Promise((r) => setTimeout(r, 25));
}
const gwM = await measure(gw, 'gateway', `http://127.0.0.1:${gwPort}`, backendPort, gwInternalPort);
gw.kill('SIGKILL');

const r = rawM.result;
const g = gwM.result;
const rawMessages = r.callerFramesArrived;
const gwMessages = g.callerFramesArrived + g.agentChunksArrived;
const rawPerMsgUs = (rawM.cpu / rawMessages) * 1e6;
const gwPerMsgUs = (gwM.cpu / gwMessages) * 1e6;
const cpuPerCallSecond = gwM.cpu / (N * gwM.wall);
const framesLost = g.callerFramesSent - g.callerFramesArrived + (g.agentChunksSent - g.agentChunksArrived);
const external = {
  p50: round(g.upTransitMs.p50 - r.upTransitMs.p50),
  p99: round(g.upTransitMs.p99 - r.upTransitMs.p99),
};
const relay = gwM.relay as {
  toBackend: { p99Ms: number };
  toCaller: { p99Ms: number };
  eventLoopDelayMs: Percentiles;
};
const internalP99 = round(Math.max(relay.toBackend.p99Ms, relay.toCaller.p99Ms) + relay.eventLoopDelayMs.p99);
const report = {
  calls: N,
  seconds: SECONDS,
  note:
    'CPU from /proc utime+stime (10 ms ticks); server on core 0, load generator (callers + fake backend) on core 1' +
    (schedPrefix.length ? `, both under \`${schedPrefix.join(' ')}\`` : ', default scheduling'),
  rawEcho: {
    messages: rawMessages,
    framesLost: r.callerFramesSent - r.callerFramesArrived,
    cpuSeconds: round(rawM.cpu),
    cpuPerMessageUs: round(rawPerMsgUs),
    transitMs: r.upTransitMs,
    rssPerCallKiB: round(rawM.rssPerCall / 1024, 1),
    loadGenerator: r.loadGenerator,
    otherCpuOnBenchCores: rawM.otherBusy,
  },
  gateway: {
    relayedMessages: gwMessages,
    cpuSeconds: round(gwM.cpu),
    cpuPerMessageUs: round(gwPerMsgUs),
    cpuPerCallSecondMs: round(cpuPerCallSecond * 1000),
    callsPerCore: Math.floor(1 / cpuPerCallSecond),
    callerToBackendMs: g.upTransitMs,
    backendToCallerMs: g.downTransitMs,
    addedLatencyMs: {
      external: {
        ...external,
        method: 'caller->backend through the gateway minus caller->echo->caller via raw ws echo, same load',
      },
      internal: {
        relay: relay,
        p99Bound: internalP99,
        method:
          'gateway histogram: message handler start -> relayed send returned, per direction; plus the gateway event-loop delay p99 (time a ready message can wait to be handled)',
      },
    },
    framesLost,
    rssPerCallKiB: round(gwM.rssPerCall / 1024, 1),
    loadGenerator: g.loadGenerator,
    otherCpuOnBenchCores: gwM.otherBusy,
  },
  cpuPerMessageRatio: round(gwPerMsgUs / rawPerMsgUs),
  targets: {
    cpuPerMessageRatioMax: 1.2,
    callsPerCoreMin: 1000,
    addedLatencyP99MaxMs: 5,
    framesLost: 0,
  },
  met: {
    cpuPerMessageRatio: gwPerMsgUs / rawPerMsgUs <= 1.2,
    callsPerCore: 1 / cpuPerCallSecond >= 1000,
    addedLatencyP99External: external.p99 <= 5,
    addedLatencyP99Internal: internalP99 <= 5,
    framesLost: framesLost === 0,
  },
};
const json = `${JSON.stringify(report, null, 2)}\n`;
mkdirSync(join(root, 'bench-results'), { recursive: true });
writeFileSync(join(root, 'bench-results/gateway.json'), json);
process.stdout.write(json);
process.exit(0);
