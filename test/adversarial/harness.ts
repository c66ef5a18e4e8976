// Adversarial suite: gateways configured exactly as production (the gateway.json of the ConfigMap
// `callfleet render` writes for an example VoiceAgent, and the memory limit of its Deployment),
// in-process (to watch REST calls and caller memory) or as a real `callfleet gateway` process (to
// measure RSS and see crashes), and the attacker's tools. ADVERSARIAL_SCALE=full runs every test at
// full size (`make test-adversarial`); `make test` runs them small.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import type { GatewayConfigInput } from '../../voice-gateway/config/schema.ts';
import type {
  CallerContext,
  CallerMemory,
  CallRecord,
  HandoffRecord,
  MemoryItem,
} from '../../voice-gateway/memory/types.ts';
import { computeSignature } from '../../voice-gateway/twilio/signature.ts';
import { examples, find, ROOT, render } from '../cdk8s/charts/fixtures.ts';
import { FakeTwilioRest } from '../fakes/twilio-rest.ts';
import { newCallSid } from '../simulator/call.ts';
import { bytesOfQuantity } from '../support/memory-cgroup.ts';
import { freePort } from '../support/ports.ts';
import { ACCOUNT_SID, AUTH_TOKEN, STREAM_KEY } from '../voice-gateway/helpers.ts';

export const FULL = process.env.ADVERSARIAL_SCALE === 'full';
/** `small` under `make test`, `full` under `make test-adversarial`. */
export const size = (small: number, full: number): number => (FULL ? full : small);

export interface Production {
  config: GatewayConfigInput & { publicBaseUrl: string };
  /** resources.limits.memory of the rendered gateway container, in bytes. */
  memoryLimitBytes: number;
}

/** The gateway config and memory limit `callfleet render` gives an example VoiceAgent. */
export function production(example = 'voiceagent-echo'): Production {
  const found = examples().find((e) => e.name === example);
  if (!found) throw new Error(`no example ${example}`);
  const objects = render(found);
  const [cm] = find(objects, 'ConfigMap').filter((o) => o.data?.['gateway.json']);
  const [deployment] = find(objects, 'Deployment');
  const memory = deployment?.spec.template.spec.containers[0].resources.limits.memory as string;
  return { config: JSON.parse(cm?.data['gateway.json']), memoryLimitBytes: bytesOfQuantity(memory) };
}

/** The signature Twilio puts on the upgrade of `callSid`'s stream: what an attacker captures once. */
export function capturedUpgrade(publicBaseUrl: string, callSid: string): { path: string; signature: string } {
  const path = `/twilio/stream/${callSid}`;
  const wss = publicBaseUrl.replace(/\/+$/, '').replace(/^http/, 'ws');
  return { path, signature: computeSignature(AUTH_TOKEN, `${wss}${path}`, {}) };
}

export interface RawStream {
  ws: WebSocket;
  /** 101 when the upgrade was taken, else the HTTP status. */
  status: number;
  closed: Promise<number>;
}

/** Opens a stream with a (replayed) signed upgrade; resolves once the upgrade was answered. */
export function openStream(
  gatewayUrl: string,
  upgrade: { path: string; signature: string },
  options: { autoPong?: boolean } = {},
): Promise<RawStream> {
  const real = new URL(gatewayUrl);
  const ws = new WebSocket(`ws://${real.host}${upgrade.path}`, {
    headers: { 'x-twilio-signature': upgrade.signature },
    perMessageDeflate: false,
    autoPong: options.autoPong ?? true,
  });
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  ws.on('error', () => {});
  return new Promise((resolve) => {
    ws.once('open', () => resolve({ ws, status: 101, closed }));
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ ws, status: res.statusCode ?? 0, closed });
      ws.terminate();
    });
    ws.once('error', () => resolve({ ws, status: 0, closed }));
  });
}

/** A Twilio `start` message naming `callSid`, with `customParameters`. */
export function startFrame(
  callSid: string,
  streamSid: string,
  customParameters: Record<string, string>,
): string {
  return JSON.stringify({
    event: 'start',
    sequenceNumber: '1',
    start: {
      accountSid: ACCOUNT_SID,
      streamSid,
      callSid,
      tracks: ['inbound'],
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      customParameters,
    },
    streamSid,
  });
}

export { mediaFrame } from '../simulator/media-frame.ts';

/** The `callfleet_stream` credential of a voice webhook's TwiML answer ('' when there is none). */
export function credentialOf(twiml: string): string {
  return /<Parameter name="callfleet_stream" value="([^"]+)"\/>/.exec(twiml)?.[1] ?? '';
}

/** Caller memory that remembers every phone number looked up or recorded (for "never touched" asserts). */
export class WatchedMemory implements CallerMemory {
  readonly lookups: string[] = [];
  readonly records: CallRecord[] = [];
  readonly #known = new Map<string, CallerContext>();
  readonly #handoffs = new Map<string, HandoffRecord>();

  know(phone: string, summary: string): void {
    this.#known.set(phone, {
      callerId: `caller-${this.#known.size + 1}`,
      returning: true,
      callCount: 3,
      profile: {},
      memories: [],
      lastCallSummary: summary,
    });
  }

  async lookup(phone: string): Promise<CallerContext | null> {
    this.lookups.push(phone);
    return this.#known.get(phone) ?? null;
  }
  async search(): Promise<MemoryItem[]> {
    return [];
  }
  record(call: CallRecord): void {
    this.records.push(call);
  }
  async saveHandoff(r: HandoffRecord): Promise<void> {
    this.#handoffs.set(r.callSid, r);
  }
  async takeHandoff(callSid: string): Promise<HandoffRecord | null> {
    const r = this.#handoffs.get(callSid) ?? null;
    this.#handoffs.delete(callSid);
    return r;
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

export interface GatewayProcess {
  url: string;
  /** The internal door (status, metrics). */
  internalUrl: string;
  pid: number;
  rest: FakeTwilioRest;
  /** Resident set size of the gateway process now, in bytes. */
  rss(): number;
  /** CPU seconds (user + system) the gateway process has used. */
  cpuSeconds(): number;
  /** Exit code/signal once the process ended on its own (a crash), else undefined. */
  exited(): string | undefined;
  stop(): Promise<void>;
}

/** `callfleet gateway` as its own process with `config` (as rendered) and the production secrets. */
export async function startGatewayProcess(
  config: GatewayConfigInput,
  o: { cpu?: number } = {},
): Promise<GatewayProcess> {
  const rest = new FakeTwilioRest(ACCOUNT_SID, AUTH_TOKEN);
  const restUrl = await rest.start();
  const dir = mkdtempSync(join(tmpdir(), 'callfleet-adv-'));
  const file = join(dir, 'gateway.json');
  writeFileSync(file, JSON.stringify(config));
  const port = await freePort();
  const internalPort = await freePort();
  const [cmd, ...args] = [...pinned(o.cpu), process.execPath, join(ROOT, 'bin/callfleet.ts'), 'gateway'];
  const child: ChildProcess = spawn(cmd as string, args, {
    env: {
      PATH: process.env.PATH,
      CALLFLEET_GATEWAY_CONFIG: file,
      PORT: String(port),
      CALLFLEET_INTERNAL_PORT: String(internalPort),
      HOST: '127.0.0.1',
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      TWILIO_ACCOUNT_SID: ACCOUNT_SID,
      TWILIO_API_BASE_URL: restUrl,
      CALLFLEET_STREAM_KEY: STREAM_KEY,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let exit: string | undefined;
  child.once('exit', (code, signal) => {
    exit = `${code ?? signal}`;
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 400; i++) {
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {}
    if (exit !== undefined) throw new Error(`gateway exited at start: ${exit}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    url,
    internalUrl: `http://127.0.0.1:${internalPort}`,
    pid: child.pid as number,
    rest,
    rss: () => {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return Number(m?.[1] ?? 0) * 1024;
    },
    cpuSeconds: () => {
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) / 100;
    },
    exited: () => exit,
    async stop() {
      if (exit === undefined) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await gone;
      }
      await rest.stop();
    },
  };
}

export function percentile(values: number[], p: number): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** POSTs a voice webhook exactly as Twilio signs it; the TwiML answer. */
export async function voiceWebhook(
  gatewayUrl: string,
  publicBaseUrl: string,
  p: { callSid: string; from: string; to?: string },
): Promise<string> {
  const params: Record<string, string> = {
    AccountSid: ACCOUNT_SID,
    CallSid: p.callSid,
    From: p.from,
    To: p.to ?? '+14155550199',
    CallStatus: 'ringing',
    Direction: 'inbound',
    ApiVersion: '2010-04-01',
  };
  const signature = computeSignature(AUTH_TOKEN, `${publicBaseUrl.replace(/\/+$/, '')}/twilio/voice`, params);
  const res = await fetch(`${gatewayUrl}/twilio/voice`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
    body: new URLSearchParams(params).toString(),
  });
  return res.text();
}

/** Resolves with the close code, or 0 when the stream is still open after `ms`. */
export function closedWithin(s: RawStream, ms: number): Promise<number> {
  return Promise.race([s.closed, sleep(ms).then(() => 0)]);
}

export interface RawCall extends RawStream {
  callSid: string;
  streamSid: string;
}

/** A call as Twilio places it (signed webhook, signed upgrade, start with the TwiML's parameters), driven by hand. */
export async function rawCall(
  gatewayUrl: string,
  publicBaseUrl: string,
  o: { from?: string; autoPong?: boolean } = {},
): Promise<RawCall> {
  const callSid = newCallSid();
  const streamSid = `MZ${callSid.slice(2)}`;
  const twiml = await voiceWebhook(gatewayUrl, publicBaseUrl, { callSid, from: o.from ?? '+14155550123' });
  const params: Record<string, string> = {};
  for (const m of twiml.matchAll(/<Parameter name="([^"]*)" value="([^"]*)"\/>/g))
    params[m[1] as string] = m[2] as string;
  const s = await openStream(gatewayUrl, capturedUpgrade(publicBaseUrl, callSid), { autoPong: o.autoPong });
  if (s.status === 101) s.ws.send(startFrame(callSid, streamSid, params));
  return { ...s, callSid, streamSid };
}

/** A TCP server that accepts connections and never answers (an agent backend that hangs). */
export async function blackHole(): Promise<{ url: string; close(): Promise<void> }> {
  const { createServer } = await import('node:net');
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  return {
    url: `ws://127.0.0.1:${port}/agent`,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** `taskset -c N` when there is such a core and taskset works here, else nothing. */
export function pinned(cpu: number | undefined, nice = 0): string[] {
  const prefix: string[] = [];
  if (
    cpu !== undefined &&
    cpu < availableParallelism() &&
    spawnSync('taskset', ['-c', String(cpu), 'true']).status === 0
  )
    prefix.push('taskset', '-c', String(cpu));
  if (nice > 0) prefix.unshift('nice', '-n', String(nice));
  return prefix;
}
