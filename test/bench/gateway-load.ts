// Load generator for bench:gateway (its own process, pinned by the orchestrator). Plays N callers
// (20 ms mu-law frames, 50/s) and, in gateway mode, the agent backend (200 ms chunks while speaking,
// half of the time). Every frame carries an id so one-way transit time can be measured here.
// Protocol with the orchestrator: prints READY when all calls run, MEASURE_END when the measured
// window ends, then one JSON line with the results.
import { createServer } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import { computeSignature } from '../../voice-gateway/twilio/signature.ts';

const [mode, target, nArg, secondsArg, backendPortArg] = process.argv.slice(2);
const N = Number(nArg);
const SECONDS = Number(secondsArg);
const PUBLIC = 'https://voice.example.com';
const RING = 1 << 20;
const sentAt = new Float64Array(RING);
const inWindow = new Uint8Array(RING);
let nextId = 1;
const transit: number[] = [];
const downTransit: number[] = [];
let measuring = false;
let callerFramesSent = 0;
let callerFramesArrived = 0;
let agentChunksSent = 0;
let agentChunksArrived = 0;

function frame(bytes: number): { id: number; b64: string } {
  const id = nextId++;
  const b = Buffer.alloc(bytes, 0xff);
  b.writeUInt32BE(id, 0);
  sentAt[id & (RING - 1)] = performance.now();
  inWindow[id & (RING - 1)] = measuring ? 1 : 0;
  return { id, b64: b.toString('base64') };
}
function idOf(b64: string): number {
  return Buffer.from(b64.slice(0, 8), 'base64').readUInt32BE(0);
}

// ---- the fake agent backend (gateway mode) -------------------------------------------------
const agents = new Set<WebSocket>();
if (mode === 'gateway') {
  const server = createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on('connection', (ws) => {
    agents.add(ws);
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as { type: string; audio?: string };
      if (m.type === 'audio' && m.audio) {
        const slot = idOf(m.audio) & (RING - 1);
        if (inWindow[slot]) {
          callerFramesArrived++;
          transit.push(performance.now() - (sentAt[slot] as number));
        }
      }
    });
    ws.on('close', () => agents.delete(ws));
  });
  await new Promise<void>((r) => server.listen(Number(backendPortArg), '127.0.0.1', () => r()));
}

// ---- callers --------------------------------------------------------------------------------
interface Caller {
  ws: WebSocket;
  streamSid: string;
}
const callers: Caller[] = [];
const targetUrl = new URL(target as string);
for (let i = 0; i < N; i++) {
  const callSid = `CA${String(i).padStart(32, '0')}`;
  const streamSid = `MZ${String(i).padStart(32, '0')}`;
  const path = `/twilio/stream/${callSid}`;
  const headers = { 'x-twilio-signature': computeSignature('12345', `wss://voice.example.com${path}`, {}) };
  const ws = new WebSocket(`ws://${targetUrl.host}${mode === 'gateway' ? path : '/'}`, {
    headers,
    perMessageDeflate: false,
  });
  await new Promise<void>((r, j) => {
    ws.once('open', () => r());
    ws.once('error', j);
  });
  const c: Caller = { ws, streamSid };
  ws.on('message', (data) => {
    const text = data.toString();
    if (mode === 'raw') {
      const m = JSON.parse(text) as { media: { payload: string } };
      const slot = idOf(m.media.payload) & (RING - 1);
      if (inWindow[slot]) {
        callerFramesArrived++;
        transit.push(performance.now() - (sentAt[slot] as number));
      }
      return;
    }
    const m = JSON.parse(text) as { event: string; media?: { payload: string }; mark?: { name: string } };
    if (m.event === 'media' && m.media) {
      const slot = idOf(m.media.payload) & (RING - 1);
      if (inWindow[slot]) {
        agentChunksArrived++;
        downTransit.push(performance.now() - (sentAt[slot] as number));
      }
    } else if (m.event === 'mark') {
      ws.send(
        `{"event":"mark","sequenceNumber":"0","streamSid":"${streamSid}","mark":{"name":"${m.mark?.name}"}}`,
      );
    }
  });
  if (mode === 'gateway') {
    ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
    ws.send(
      JSON.stringify({
        event: 'start',
        sequenceNumber: '1',
        start: {
          accountSid: 'AC0',
          streamSid,
          callSid,
          tracks: ['inbound'],
          mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
          customParameters: { From: '+14155550100', To: '+14155550199' },
        },
        streamSid,
      }),
    );
  }
  callers.push(c);
}
if (mode === 'gateway') {
  const t0 = Date.now();
  while (agents.size < N && Date.now() - t0 < 10000) await new Promise((r) => setTimeout(r, 20));
}

let tick = 0;
let seq = 2;
const tStart = performance.now();
const ticker = setInterval(() => {
  const due = Math.floor((performance.now() - tStart) / 20);
  while (tick < due) step();
}, 5);
function step() {
  tick++;
  for (const c of callers) {
    const f = frame(160);
    c.ws.send(
      `{"event":"media","sequenceNumber":"${seq}","media":{"track":"inbound","chunk":"${seq}","timestamp":"${tick * 20}","payload":"${f.b64}"},"streamSid":"${c.streamSid}"}`,
    );
    if (measuring) callerFramesSent++;
  }
  seq++;
  // The agent speaks one second out of two, a 200 ms chunk every 200 ms.
  if (mode === 'gateway' && tick % 10 === 0 && tick % 100 < 50) {
    for (const a of agents) {
      const f = frame(1600);
      a.send(`{"type":"audio","audio":"${f.b64}","itemId":"i${Math.floor(tick / 100)}"}`);
      if (measuring) agentChunksSent++;
    }
  }
}

await new Promise((r) => setTimeout(r, 1000)); // warm-up
measuring = true;
process.stdout.write('READY\n');
await new Promise((r) => setTimeout(r, SECONDS * 1000));
measuring = false;
process.stdout.write('MEASURE_END\n');
clearInterval(ticker);
await new Promise((r) => setTimeout(r, 1000));

function pct(a: number[], p: number): number {
  if (!a.length) return 0;
  const s = [...a].sort((x, y) => x - y);
  return Number((s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number).toFixed(3));
}
const result = {
  callerFramesSent,
  callerFramesArrived,
  agentChunksSent,
  agentChunksArrived,
  upTransitMs: { p50: pct(transit, 50), p99: pct(transit, 99) },
  downTransitMs: { p50: pct(downTransit, 50), p99: pct(downTransit, 99) },
};
process.stdout.write(`${JSON.stringify(result)}\n`);
for (const c of callers) c.ws.terminate();
for (const a of agents) a.terminate();
process.exit(0);
