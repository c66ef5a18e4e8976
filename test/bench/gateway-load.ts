// Load generator for bench:gateway (its own process, pinned by the orchestrator). Plays N callers
// (20 ms mu-law frames, 50/s) and, in gateway mode, the agent backend (200 ms chunks while speaking,
// one second out of two). Built to stay far from saturation so its own queueing does not pollute
// the latency figures:
// - one shared 1 ms ticker; calls are spread over the 20 ms frame period (phase = index mod 20),
//   as independent real calls are, instead of all N frames leaving in one burst;
// - frames are pre-serialised strings; the send time (microseconds) is the first 12 bytes of the
//   audio payload (quiet mu-law, below), so a receiver finds it with one indexOf and decodes it
//   without JSON.parse, Buffer allocation or a lookup table of ids;
// - the caller talks in turns (speech in odd seconds, silence while the agent speaks in even ones),
//   as in a conversation: the gateway's speech detector, turn tracking and onset flushes run as in
//   production (a stamp made of loud bytes had every caller talking without pause for the whole call);
// - samples go to preallocated typed arrays.
// - the backend may get caller audio in chunks of several frames (calls.uplinkChunkMs): it decodes
//   each message's audio and reads the stamp of every 160-byte frame in it;
// - backend `websocket` (our JSON protocol) or `elevenlabs` (the ElevenLabs Agents protocol as in
//   test/fakes/elevenlabs.ts: conversation_initiation_metadata, user_audio_chunk in, audio_event out).
// It also reports its own CPU use and event-loop delay, so a saturated generator is visible.
// Protocol with the orchestrator: READY when all calls run and the window starts, MEASURE_END when
// the measured window ends, then one JSON line with the results.
import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { WebSocket, WebSocketServer } from 'ws';
import { computeSignature } from '../../voice-gateway/twilio/signature.ts';
import { STREAM_CREDENTIAL_PARAM, StreamCredentials } from '../../voice-gateway/twilio/stream-credential.ts';

/** CALLFLEET_STREAM_KEY of the benchmarked gateway (the load generator plays the voice webhook's part). */
const BENCH_STREAM_KEY = 'bench-stream-key-0123456789abcdefghijklmnop';

const [mode, target, nArg, secondsArg, backendPortArg, backendKind = 'websocket'] = process.argv.slice(2);
const N = Number(nArg);
const SECONDS = Number(secondsArg);
const FRAME_MS = 20;
const CHUNK_MS = 200;

// ---- send-time stamps in the payload ----------------------------------------------------------
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DECODE = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) DECODE[ALPHABET.charCodeAt(i)] = i;
// The send time (microseconds, 48 bits) rides in the first 12 bytes of the audio, 4 bits per byte
// as 0xF0 | nibble: quiet mu-law (|sample| <= 120), so the stamp never sounds like speech to the
// gateway's speech detector. 12 bytes are 16 base64 characters without padding, so the rest of the
// frame's audio follows as its own base64 string.
const STAMP_BYTES = 12;
const STAMP_CHARS = 16;
const stampBytes = Buffer.alloc(STAMP_BYTES);

function stampNow(): string {
  let v = Math.floor(performance.now() * 1000);
  for (let i = STAMP_BYTES - 1; i >= 0; i--) {
    stampBytes[i] = 0xf0 | (v % 16);
    v = Math.floor(v / 16);
  }
  return stampBytes.toString('base64');
}

/** Microseconds stamped in the audio bytes at `at`, or -1 when they are not a stamp. */
function stampAt(bytes: Uint8Array, at: number): number {
  let v = 0;
  for (let i = 0; i < STAMP_BYTES; i++) {
    const b = bytes[at + i];
    if (b === undefined || (b & 0xf0) !== 0xf0) return -1;
    v = v * 16 + (b & 0x0f);
  }
  return v;
}

/** Microseconds stamped at the start of the base64 audio at `at` in `buf` (no allocation), or -1. */
function readStamp(buf: Buffer, at: number): number {
  for (let g = 0; g < STAMP_CHARS / 4; g++) {
    let bits = 0;
    for (let k = 0; k < 4; k++) {
      const d = DECODE[buf[at + g * 4 + k] as number] ?? -1;
      if (d < 0) return -1;
      bits = (bits << 6) | d;
    }
    stampBytes[g * 3] = bits >> 16;
    stampBytes[g * 3 + 1] = (bits >> 8) & 0xff;
    stampBytes[g * 3 + 2] = bits & 0xff;
  }
  return stampAt(stampBytes, 0);
}

const PAYLOAD_KEY = Buffer.from('"payload":"');
const AUDIO_KEY = Buffer.from(backendKind === 'elevenlabs' ? '"user_audio_chunk":"' : '"audio":"');
const MARK_KEY = Buffer.from('"event":"mark"');
const NAME_KEY = Buffer.from('"name":"');
// The caller talks in turns with the agent: silence while the agent speaks (even seconds), speech
// (loud mu-law) in the odd seconds; the agent's 200 ms chunks are quiet audio.
const callerQuiet = Buffer.alloc(160 - STAMP_BYTES, 0xff).toString('base64');
const callerLoud = Buffer.alloc(160 - STAMP_BYTES, 0x10).toString('base64');
const agentRest = Buffer.alloc(1600 - STAMP_BYTES, 0x7f).toString('base64');

// ---- measurement state -------------------------------------------------------------------------
let windowStartUs = Number.POSITIVE_INFINITY;
let windowEndUs = Number.POSITIVE_INFINITY;
const inWindow = (us: number) => us >= windowStartUs && us < windowEndUs;
// Samples beyond the arrays' room (a starved generator whose window ran long) are counted, not kept.
const capacity = N * (1000 / FRAME_MS) * (SECONDS + 10) + 1024;
const up = new Float64Array(capacity);
let upCount = 0;
const down = new Float64Array(Math.ceil(capacity / 5));
let downCount = 0;
let callerFramesSent = 0;
let agentChunksSent = 0;
let mismatched = 0;

function arrived(buf: Buffer, key: Buffer, into: 'up' | 'down'): boolean {
  const k = buf.indexOf(key);
  if (k < 0) return false;
  const sent = readStamp(buf, k + key.length);
  if (sent < 0) {
    mismatched++;
    return true;
  }
  if (!inWindow(sent)) return true;
  const ms = performance.now() - sent / 1000;
  if (into === 'up') up[upCount++ % capacity] = ms;
  else down[downCount++ % down.length] = ms;
  return true;
}

const FRAME_BYTES = 160;
const decoded = Buffer.alloc(64 * 1024);
const NOW_US_MAX = () => performance.now() * 1000 + 1e6;

/** Caller audio at the backend: every 160-byte frame of the (possibly chunked) audio carries a stamp. */
function arrivedChunk(buf: Buffer): void {
  const k = buf.indexOf(AUDIO_KEY);
  if (k < 0) return;
  const at = k + AUDIO_KEY.length;
  const end = buf.indexOf(34, at);
  const n = decoded.write(buf.toString('latin1', at, end), 'base64');
  const now = performance.now();
  for (let off = 0; off + STAMP_BYTES <= n; off += FRAME_BYTES) {
    const sent = stampAt(decoded, off);
    if (sent <= 0 || sent > NOW_US_MAX()) {
      mismatched++;
      continue;
    }
    if (inWindow(sent)) up[upCount++ % capacity] = now - sent / 1000;
  }
}

// ---- the fake agent backend (gateway mode) -------------------------------------------------
const agents: WebSocket[] = [];
if (mode === 'gateway') {
  const server = createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false, skipUTF8Validation: true });
  wss.on('connection', (ws) => {
    if (backendKind !== 'elevenlabs') agents.push(ws);
    ws.on('message', (data) => {
      const buf = data as Buffer;
      if (backendKind === 'elevenlabs' && buf.indexOf(AUDIO_KEY) < 0) {
        const m = JSON.parse(buf.toString()) as { type?: string };
        if (m.type === 'conversation_initiation_client_data') {
          ws.send(
            JSON.stringify({
              type: 'conversation_initiation_metadata',
              conversation_initiation_metadata_event: {
                conversation_id: `conv_${agents.length + 1}`,
                agent_output_audio_format: 'ulaw_8000',
                user_input_audio_format: 'ulaw_8000',
              },
            }),
          );
          agents.push(ws);
        }
        return;
      }
      arrivedChunk(buf);
    });
  });
  await new Promise<void>((r) => server.listen(Number(backendPortArg), '127.0.0.1', () => r()));
}

// ---- callers --------------------------------------------------------------------------------
interface Caller {
  ws: WebSocket;
  streamSid: string;
  seq: number;
}
const callers: Caller[] = [];
const targetUrl = new URL(target as string);
const credentials = new StreamCredentials(BENCH_STREAM_KEY);
for (let i = 0; i < N; i++) {
  const callSid = `CA${String(i).padStart(32, '0')}`;
  const streamSid = `MZ${String(i).padStart(32, '0')}`;
  const path = `/twilio/stream/${callSid}`;
  const headers = { 'x-twilio-signature': computeSignature('12345', `wss://voice.example.com${path}`, {}) };
  const ws = new WebSocket(`ws://${targetUrl.host}${mode === 'gateway' ? path : '/'}`, {
    headers,
    perMessageDeflate: false,
    skipUTF8Validation: true,
  });
  await new Promise<void>((r, j) => {
    ws.once('open', () => r());
    ws.once('error', j);
  });
  const markPrefix = `{"event":"mark","sequenceNumber":"0","streamSid":"${streamSid}","mark":{"name":"`;
  ws.on('message', (data) => {
    const buf = data as Buffer;
    if (mode === 'raw') {
      arrived(buf, PAYLOAD_KEY, 'up');
      return;
    }
    if (arrived(buf, PAYLOAD_KEY, 'down')) return;
    if (buf.indexOf(MARK_KEY) >= 0) {
      const at = buf.indexOf(NAME_KEY) + NAME_KEY.length;
      const name = buf.toString('latin1', at, buf.indexOf(34, at));
      ws.send(`${markPrefix}${name}"}}`);
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
          customParameters: {
            [STREAM_CREDENTIAL_PARAM]: credentials.issue({
              callSid,
              accountSid: 'AC0',
              from: '+14155550100',
              to: '+14155550199',
            }),
          },
        },
        streamSid,
      }),
    );
  }
  callers.push({ ws, streamSid, seq: 2 });
}
if (mode === 'gateway') {
  const t0 = Date.now();
  while (agents.length < N && Date.now() - t0 < 10000) await new Promise((r) => setTimeout(r, 20));
}

// ---- one shared 1 ms ticker ------------------------------------------------------------------
// Caller i sends at milliseconds ≡ i (mod 20); agent j, while speaking, at ms ≡ 7j (mod 200).
const callersBySlot: Caller[][] = Array.from({ length: FRAME_MS }, () => []);
for (const [i, c] of callers.entries()) callersBySlot[i % FRAME_MS]?.push(c);
const agentsBySlot: WebSocket[][] = Array.from({ length: CHUNK_MS }, () => []);
for (const [j, a] of agents.entries()) agentsBySlot[(j * 7) % CHUNK_MS]?.push(a);
let slot = 0;
let eventId = 0;
const tStart = performance.now();

function sendSlot(s: number): void {
  for (const c of callersBySlot[s % FRAME_MS] as Caller[]) {
    const seq = c.seq++;
    c.ws.send(
      `{"event":"media","sequenceNumber":"${seq}","media":{"track":"inbound","chunk":"${seq}","timestamp":"${s}","payload":"${stampNow()}${Math.floor(s / 1000) % 2 ? callerLoud : callerQuiet}"},"streamSid":"${c.streamSid}"}`,
    );
    if (windowStartUs !== Number.POSITIVE_INFINITY && windowEndUs === Number.POSITIVE_INFINITY)
      callerFramesSent++;
  }
  if (mode !== 'gateway') return;
  // The agent speaks one second out of two, a 200 ms chunk every 200 ms.
  if (Math.floor(s / 1000) % 2 !== 0) return;
  for (const a of agentsBySlot[s % CHUNK_MS] as WebSocket[]) {
    if (backendKind === 'elevenlabs')
      a.send(
        `{"type":"audio","audio_event":{"audio_base_64":"${stampNow()}${agentRest}","event_id":${++eventId}}}`,
      );
    else a.send(`{"type":"audio","audio":"${stampNow()}${agentRest}","itemId":"i${Math.floor(s / 2000)}"}`);
    if (windowStartUs !== Number.POSITIVE_INFINITY && windowEndUs === Number.POSITIVE_INFINITY)
      agentChunksSent++;
  }
}
const ticker = setInterval(() => {
  const due = Math.floor(performance.now() - tStart);
  while (slot < due) sendSlot(slot++);
}, 1);

await new Promise((r) => setTimeout(r, 2000)); // warm-up (JIT, TCP windows)
const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();
const cpu0 = process.cpuUsage();
const w0 = performance.now();
windowStartUs = w0 * 1000;
process.stdout.write('READY\n');
await new Promise((r) => setTimeout(r, SECONDS * 1000));
windowEndUs = performance.now() * 1000;
const cpu = process.cpuUsage(cpu0);
const wall = (windowEndUs / 1000 - w0) / 1000;
loop.disable();
process.stdout.write('MEASURE_END\n');
await new Promise((r) => setTimeout(r, 1000)); // let in-flight frames arrive
clearInterval(ticker);

function pct(a: Float64Array, n: number, p: number): number {
  const k = Math.min(n, a.length);
  if (!k) return 0;
  const s = a.slice(0, k).sort();
  return Number((s[Math.min(k - 1, Math.floor((p / 100) * k))] as number).toFixed(3));
}
const result = {
  callerFramesSent,
  callerFramesArrived: upCount,
  agentChunksSent,
  agentChunksArrived: downCount,
  unreadableStamps: mismatched,
  upTransitMs: { p50: pct(up, upCount, 50), p99: pct(up, upCount, 99), max: pct(up, upCount, 100) },
  downTransitMs: {
    p50: pct(down, downCount, 50),
    p99: pct(down, downCount, 99),
    max: pct(down, downCount, 100),
  },
  loadGenerator: {
    cpuUtilisation: Number(((cpu.user + cpu.system) / 1e6 / wall).toFixed(3)),
    eventLoopDelayMs: {
      p50: Number((loop.percentile(50) / 1e6).toFixed(3)),
      p99: Number((loop.percentile(99) / 1e6).toFixed(3)),
      max: Number((loop.max / 1e6).toFixed(3)),
    },
  },
};
process.stdout.write(`${JSON.stringify(result)}\n`);
for (const c of callers) c.ws.terminate();
for (const a of agents) a.terminate();
process.exit(0);
