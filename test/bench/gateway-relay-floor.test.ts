// The floors of bench:gateway must do the work they stand for: a relay floor that dropped audio, or a
// sink that still sent it, would make the benchmark's floor figures lie.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { mediaFrame } from '../simulator/media-frame.ts';
import { freePort } from '../support/ports.ts';
import { waitFor } from '../support/processes.ts';

const FLOOR = new URL('./gateway-relay-floor.ts', import.meta.url).pathname;
const STREAM_SID = `MZ${'0'.repeat(32)}`;

interface Rig {
  caller: WebSocket;
  /** Messages the backend received, parsed. */
  atBackend: { type: string; audio?: string }[];
  /** Messages the caller received, parsed. */
  atCaller: { event: string; media?: { payload: string } }[];
  agent(): WebSocket;
  stop(): void;
}

async function rig(mode: 'sink' | 'relay', chunkFrames: number): Promise<Rig> {
  const backendServer = createServer();
  const backends = new WebSocketServer({ server: backendServer });
  const atBackend: Rig['atBackend'] = [];
  let agent: WebSocket | undefined;
  backends.on('connection', (ws) => {
    agent = ws;
    ws.on('message', (data) => atBackend.push(JSON.parse(String(data))));
  });
  await new Promise<void>((r) => backendServer.listen(0, '127.0.0.1', r));
  const backendPort = (backendServer.address() as AddressInfo).port;
  const port = await freePort();
  const floor: ChildProcess = spawn(
    process.execPath,
    [FLOOR, String(port), `ws://127.0.0.1:${backendPort}/agent`, mode, String(chunkFrames)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await once(floor.stdout as NodeJS.ReadableStream, 'data');
  const caller = new WebSocket(`ws://127.0.0.1:${port}/twilio/stream/CA0`);
  await once(caller, 'open');
  const atCaller: Rig['atCaller'] = [];
  caller.on('message', (data) => atCaller.push(JSON.parse(String(data))));
  caller.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
  caller.send(JSON.stringify({ event: 'start', start: { streamSid: STREAM_SID, callSid: 'CA0' } }));
  await until('the backend to get start', () => atBackend.some((m) => m.type === 'start'));
  return {
    caller,
    atBackend,
    atCaller,
    agent: () => agent as WebSocket,
    stop: () => {
      caller.terminate();
      floor.kill('SIGKILL');
      backends.close();
      backendServer.close();
    },
  };
}

const frames = [0x10, 0x20, 0x30, 0x40].map((b) => Buffer.alloc(160, b));

function sendFrames(caller: WebSocket): void {
  for (const [i, f] of frames.entries()) caller.send(mediaFrame(STREAM_SID, f.toString('base64'), i + 2));
}

/** Polls a condition of the messages collected so far. */
const until = (what: string, done: () => boolean) => waitFor(what, async () => done(), 5000, 5);

test('the relay floor sends every caller frame on, in chunks, and the agent audio back with a mark', async () => {
  const r = await rig('relay', 2);
  try {
    sendFrames(r.caller);
    await until('two chunks', () => r.atBackend.filter((m) => m.type === 'audio').length === 2);
    const chunks = r.atBackend
      .filter((m) => m.type === 'audio')
      .map((m) => Buffer.from(m.audio ?? '', 'base64'));
    assert.deepEqual(chunks, [Buffer.concat(frames.slice(0, 2)), Buffer.concat(frames.slice(2))]);

    const agentAudio = Buffer.alloc(1600, 0x7f).toString('base64');
    r.agent().send(JSON.stringify({ type: 'audio', audio: agentAudio }));
    await until('the agent audio and its mark', () => r.atCaller.length === 2);
    assert.equal(r.atCaller[0]?.event, 'media');
    assert.equal(r.atCaller[0]?.media?.payload, agentAudio);
    assert.equal(r.atCaller[1]?.event, 'mark');
  } finally {
    r.stop();
  }
});

test('the sink floor sends no caller audio up, and still carries the agent audio down', async () => {
  const r = await rig('sink', 2);
  try {
    sendFrames(r.caller);
    const agentAudio = Buffer.alloc(1600, 0x7f).toString('base64');
    r.agent().send(JSON.stringify({ type: 'audio', audio: agentAudio }));
    await until('the agent audio and its mark', () => r.atCaller.length === 2);
    assert.equal(r.atCaller[0]?.media?.payload, agentAudio);
    // The frames were sent before the agent's audio came back; give stragglers a moment anyway.
    await new Promise((res) => setTimeout(res, 200));
    assert.deepEqual(
      r.atBackend.map((m) => m.type),
      ['start'],
    );
  } finally {
    r.stop();
  }
});
