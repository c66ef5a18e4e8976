// bench:gateway — N simulated calls through the gateway to a fake backend, beside a raw ws echo
// server with the same message counts. Server and load generator are pinned to different cores.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;
const N = Number(process.env.BENCH_CALLS ?? 200);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CLK_TCK = 100;

function freePort(): Promise<number> {
  return new Promise((r) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => r(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

function pinned(core: number, args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn('taskset', ['-c', String(core), process.execPath, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
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

interface LoadResult {
  callerFramesSent: number;
  callerFramesArrived: number;
  agentChunksSent: number;
  agentChunksArrived: number;
  upTransitMs: { p50: number; p99: number };
  downTransitMs: { p50: number; p99: number };
}

async function measure(server: ChildProcess, mode: 'raw' | 'gateway', target: string, backendPort = 0) {
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
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  await waitLine(load, /^MEASURE_END$/);
  const cpu1 = cpuSeconds(pid);
  const wall = (performance.now() - t0) / 1000;
  const rss = rssBytes(pid);
  const result = JSON.parse(await waitLine(load, /^\{/)) as LoadResult;
  return { cpu: cpu1 - cpu0, wall, rssPerCall: (rss - idleRss) / N, result };
}

const rawPort = await freePort();
const raw = pinned(0, [join(root, 'test/bench/gateway-raw-echo.ts'), String(rawPort)]);
await waitLine(raw, /LISTENING/);
const rawM = await measure(raw, 'raw', `http://127.0.0.1:${rawPort}`);
raw.kill('SIGKILL');

const gwPort = await freePort();
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
const gw = pinned(0, [join(root, 'bin/callfleet.ts'), 'gateway'], {
  CALLFLEET_GATEWAY_CONFIG: cfg,
  PORT: String(gwPort),
  HOST: '127.0.0.1',
  TWILIO_AUTH_TOKEN: '12345',
  LOG_LEVEL: 'warn',
});
for (let i = 0; i < 200; i++) {
  try {
    if ((await fetch(`http://127.0.0.1:${gwPort}/health`)).ok) break;
  } catch {}
  await new Promise((r) => setTimeout(r, 25));
}
const gwM = await measure(gw, 'gateway', `http://127.0.0.1:${gwPort}`, backendPort);
gw.kill('SIGKILL');

const rawMessages = rawM.result.callerFramesArrived;
const gwMessages = gwM.result.callerFramesArrived + gwM.result.agentChunksArrived;
const rawPerMsgUs = (rawM.cpu / rawMessages) * 1e6;
const gwPerMsgUs = (gwM.cpu / gwMessages) * 1e6;
const cpuPerCallSecond = gwM.cpu / (N * gwM.wall);
const round = (x: number, d = 3) => Number(x.toFixed(d));
const report = {
  calls: N,
  seconds: SECONDS,
  note: 'CPU from /proc utime+stime at 10 ms resolution; gateway and load generator pinned to cores 0 and 1',
  rawEcho: {
    messages: rawMessages,
    cpuSeconds: round(rawM.cpu),
    cpuPerMessageUs: round(rawPerMsgUs),
    roundTripMs: rawM.result.upTransitMs,
    rssPerCallKiB: round(rawM.rssPerCall / 1024, 1),
  },
  gateway: {
    relayedMessages: gwMessages,
    cpuSeconds: round(gwM.cpu),
    cpuPerMessageUs: round(gwPerMsgUs),
    cpuPerCallSecondMs: round(cpuPerCallSecond * 1000),
    callsPerCore: Math.floor(1 / cpuPerCallSecond),
    callerToBackendMs: gwM.result.upTransitMs,
    backendToCallerMs: gwM.result.downTransitMs,
    addedLatencyMs: {
      p50: round(gwM.result.upTransitMs.p50 - rawM.result.upTransitMs.p50),
      p99: round(gwM.result.upTransitMs.p99 - rawM.result.upTransitMs.p99),
    },
    framesLost:
      gwM.result.callerFramesSent -
      gwM.result.callerFramesArrived +
      (gwM.result.agentChunksSent - gwM.result.agentChunksArrived),
    rssPerCallKiB: round(gwM.rssPerCall / 1024, 1),
  },
  cpuPerMessageRatio: round(gwPerMsgUs / rawPerMsgUs),
  targets: {
    cpuPerMessageRatioMax: 1.2,
    callsPerCoreMin: 1000,
    addedLatencyP99MaxMs: 5,
    framesLost: 0,
  },
};
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
process.exit(0);
