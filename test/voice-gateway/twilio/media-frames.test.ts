// The Twilio socket's frame reader must answer exactly as `ws`'s own Receiver: the same messages,
// pongs, pings, errors, close codes and bytes written back, for the same bytes cut into reads at
// any points. Both sides run a real `ws` WebSocketServer (the gateway's options) over an in-memory
// socket whose reads we choose, or over loopback TCP (where reads go into the shared read buffer).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { MediaFrameReader } from '../../../voice-gateway/twilio/media-frames.ts';

const MAX_PAYLOAD = 4096;

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface FrameSpec {
  fin?: boolean;
  rsv?: number;
  opcode: number;
  payload: Buffer;
  masked?: boolean;
  /** Length field form: 7, 16 or 64 bits (default: the smallest that fits). */
  lenBits?: 7 | 16 | 64;
}

function frame(f: FrameSpec, rand: () => number): Buffer {
  const n = f.payload.length;
  const bits = f.lenBits ?? (n < 126 ? 7 : n < 65536 ? 16 : 64);
  const ext = bits === 7 ? 0 : bits === 16 ? 2 : 8;
  const masked = f.masked ?? true;
  const head = Buffer.alloc(2 + ext + (masked ? 4 : 0));
  head[0] = (f.fin === false ? 0 : 0x80) | ((f.rsv ?? 0) << 4) | f.opcode;
  head[1] = (masked ? 0x80 : 0) | (bits === 7 ? n : bits === 16 ? 126 : 127);
  if (bits === 16) head.writeUInt16BE(n, 2);
  if (bits === 64) head.writeBigUInt64BE(BigInt(n), 2);
  const body = Buffer.from(f.payload);
  if (masked) {
    const mask = Buffer.from([0, 1, 2, 3].map(() => Math.floor(rand() * 256)));
    mask.copy(head, 2 + ext);
    for (let i = 0; i < n; i++) body[i] = (body[i] as number) ^ (mask[i & 3] as number);
  }
  return Buffer.concat([head, body]);
}

const SID = 'MZ00000000000000000000000000000000';
function twilioMedia(rand: () => number): Buffer {
  const audio = Buffer.alloc(160, Math.floor(rand() * 256)).toString('base64');
  return Buffer.from(
    `{"event":"media","sequenceNumber":"${Math.floor(rand() * 1e6)}","media":{"track":"inbound","chunk":"1","timestamp":"5","payload":"${audio}"},"streamSid":"${SID}"}`,
  );
}

/** A frame the fast path reads (text, pong) or, now and then, one it hands to ws. */
function randomFrame(rand: () => number, oddShare: number): FrameSpec {
  const r = rand();
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
  if (rand() >= oddShare) {
    if (r < 0.8) return { opcode: 1, payload: twilioMedia(rand) };
    if (r < 0.9) return { opcode: 1, payload: bytes(Math.floor(rand() * 130)) };
    if (r < 0.95) return { opcode: 1, payload: Buffer.alloc(0) };
    return { opcode: 10, payload: bytes(Math.floor(rand() * 20)) };
  }
  const odd: FrameSpec[] = [
    { opcode: 9, payload: bytes(4) }, // ping: ws answers with a pong
    { opcode: 2, payload: bytes(10) }, // binary
    { opcode: 1, fin: false, payload: Buffer.from('{"event":') }, // a fragment (continued below)
    { opcode: 0, payload: Buffer.from('"x"}') }, // continuation (alone: a protocol error)
    { opcode: 1, rsv: 4, payload: Buffer.from('{}') }, // reserved bit
    { opcode: 1, masked: false, payload: Buffer.from('{}') }, // unmasked client frame
    { opcode: 1, payload: bytes(MAX_PAYLOAD + 1) }, // oversize: close 1009
    { opcode: 1, payload: Buffer.from('{}'), lenBits: 64 }, // 64-bit length
    { opcode: 1, payload: Buffer.from('{"a":1}'), lenBits: 16 }, // non-minimal 16-bit length
    { opcode: 10, payload: bytes(126), lenBits: 16 }, // control frame too long
    { opcode: 8, payload: Buffer.from([0x03, 0xe8, 0x62, 0x79, 0x65]) }, // close 1000 "bye"
    { opcode: 3, payload: bytes(2) }, // reserved opcode
  ];
  return odd[Math.floor(rand() * odd.length)] as FrameSpec;
}

const serverOptions = {
  noServer: true,
  maxPayload: MAX_PAYLOAD,
  perMessageDeflate: false,
  skipUTF8Validation: true,
} as const;

/** The server side's observer: every event of the WebSocket, the reader attached when `fast`. */
function watchSocket(ws: import('ws').WebSocket, fast: boolean, log: string[], closed: () => void) {
  ws.on('message', (data, isBinary) => log.push(`message ${isBinary} ${(data as Buffer).toString('hex')}`));
  ws.on('ping', (d) => log.push(`ping ${d.toString('hex')}`));
  ws.on('pong', (d) => log.push(`pong ${d.toString('hex')}`));
  ws.on('error', (e) => log.push(`error ${e.message}`));
  ws.on('close', (code, reason) => {
    log.push(`close ${code} ${reason.toString('hex')}`);
    closed();
  });
  if (!fast) return undefined;
  const reader = MediaFrameReader.attach(ws, MAX_PAYLOAD, (p) =>
    log.push(`message false ${p.toString('hex')}`),
  );
  assert.ok(reader, 'the reader takes the socket');
  return reader;
}

const UPGRADE =
  'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

/** The same over loopback TCP: `chunks` written one by one; `written` is what the client received. */
async function observeTcp(chunks: Buffer[], fast: boolean): Promise<{ log: string[]; sharedReads: boolean }> {
  const log: string[] = [];
  const wss = new WebSocketServer(serverOptions);
  const server = createServer();
  let sharedReads = false;
  let resolveClosed = () => {};
  const closed = new Promise<void>((r) => {
    resolveClosed = r;
  });
  const opened = new Promise<void>((resolve) => {
    server.on('upgrade', (req: IncomingMessage, socket, head) =>
      wss.handleUpgrade(req, socket, head, (ws) => {
        sharedReads = watchSocket(ws, fast, log, resolveClosed)?.sharedReads ?? false;
        resolve();
      }),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client: Socket = connect((server.address() as { port: number }).port, '127.0.0.1');
  client.setNoDelay(true);
  const received: Buffer[] = [];
  client.on('data', (d) => received.push(d));
  client.on('error', () => {});
  client.write(UPGRADE);
  await opened;
  for (const c of chunks) {
    if (client.destroyed) break;
    client.write(c);
    await new Promise((r) => setImmediate(r));
  }
  client.end();
  await Promise.race([closed, new Promise((r) => setTimeout(r, 200))]);
  await new Promise((r) => setTimeout(r, 20));
  client.destroy();
  server.closeAllConnections();
  server.close();
  log.push(`written ${Buffer.concat(received).toString('hex')}`);
  return { log, sharedReads };
}

/** Everything observable of one server-side WebSocket fed `chunks`. */
async function observe(chunks: Buffer[], fast: boolean): Promise<string[]> {
  const log: string[] = [];
  const written: Buffer[] = [];
  const socket = new Duplex({
    read() {},
    write(chunk, _enc, cb) {
      written.push(Buffer.from(chunk));
      cb();
    },
  });
  const wss = new WebSocketServer(serverOptions);
  const req = {
    method: 'GET',
    url: '/',
    headers: {
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'sec-websocket-version': '13',
    },
  };
  const closed = new Promise<void>((resolve) => {
    wss.handleUpgrade(req as never, socket, Buffer.alloc(0), (ws) => {
      watchSocket(ws, fast, log, resolve);
    });
  });
  for (const c of chunks) {
    socket.push(c);
    await new Promise((r) => setImmediate(r));
  }
  socket.push(null);
  await Promise.race([closed, new Promise((r) => setTimeout(r, 50))]);
  log.push(`written ${Buffer.concat(written).toString('hex')}`);
  return log;
}

function cut(bytes: Buffer, rand: () => number, maxChunk: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; ) {
    const n = 1 + Math.floor(rand() * maxChunk);
    chunks.push(Buffer.from(bytes.subarray(at, at + n)));
    at += n;
  }
  return chunks;
}

async function same(bytes: Buffer, rand: () => number, maxChunk: number): Promise<string[]> {
  const chunks = cut(bytes, rand, maxChunk);
  const copy = () => chunks.map((c) => Buffer.from(c));
  const slow = await observe(copy(), false);
  const quick = await observe(copy(), true);
  assert.deepEqual(quick, slow);
  return slow;
}

describe('Twilio socket frame reader (MediaFrameReader)', () => {
  it('reads Twilio media frames and pongs as ws does, whatever the read boundaries', async () => {
    for (let seed = 1; seed <= 30; seed++) {
      const rand = rng(seed);
      const frames = Array.from({ length: 40 }, () => frame(randomFrame(rand, 0), rand));
      const log = await same(Buffer.concat(frames), rand, seed % 3 === 0 ? 8 : 700);
      assert.ok(log.filter((l) => l.startsWith('message')).length > 30);
    }
  });

  it('hands every other frame, and all after it, to ws: same messages, errors, close codes and replies', async () => {
    let errors = 0;
    let closes = 0;
    for (let seed = 100; seed < 260; seed++) {
      const rand = rng(seed);
      const frames = Array.from({ length: 12 }, () => frame(randomFrame(rand, 0.2), rand));
      const log = await same(Buffer.concat(frames), rand, seed % 2 ? 5 : 400);
      if (log.some((l) => l.startsWith('error'))) errors++;
      if (log.some((l) => l.startsWith('close'))) closes++;
    }
    // The odd frames did reach ws: protocol errors and close codes were compared too.
    assert.ok(errors > 20, `errors: ${errors}`);
    assert.ok(closes > 100, `closes: ${closes}`);
  });

  it('over TCP reads into the shared read buffer and answers exactly as ws, media and odd frames alike', async () => {
    let errors = 0;
    for (let seed = 300; seed < 330; seed++) {
      const rand = rng(seed);
      const frames = Array.from({ length: 30 }, () => frame(randomFrame(rand, seed % 2 ? 0.1 : 0), rand));
      const chunks = cut(Buffer.concat(frames), rand, seed % 3 === 0 ? 9 : 600);
      const copy = () => chunks.map((c) => Buffer.from(c));
      const slow = await observeTcp(copy(), false);
      const quick = await observeTcp(copy(), true);
      assert.equal(quick.sharedReads, true, 'reads go into the shared buffer');
      assert.deepEqual(quick.log, slow.log, `seed ${seed}`);
      if (slow.log.some((l) => l.startsWith('error'))) errors++;
    }
    assert.ok(errors > 3, `errors: ${errors}`);
  });

  it('leaves the socket to ws when ws internals are not as expected', async () => {
    const fake = { _socket: null, _receiver: null } as never;
    assert.equal(
      MediaFrameReader.attach(fake, MAX_PAYLOAD, () => {}),
      undefined,
    );
  });
});
