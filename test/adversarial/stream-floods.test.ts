// Issue 15, hole 2: every stream has a deadline and every pod a ceiling. Streams that never send
// `start` are closed after limits.startTimeoutMs and never delay a drain; upgrades past the ceiling
// are refused with 503; keep-alive pings find peers that went away; an agent backend flooding a
// caller who stopped reading costs a bounded amount of memory.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { newCallSid, speechPattern } from '../simulator/call.ts';
import { startGateway, type TestGateway, until } from '../voice-gateway/helpers.ts';
import {
  capturedUpgrade,
  closedWithin,
  openStream,
  production,
  rawCall,
  size,
  sleep,
  startGatewayProcess,
} from './harness.ts';

const prod = production();
const base = prod.config.publicBaseUrl;
const capacity = prod.config.calls?.maxConcurrentPerPod ?? 20;
const startTimeoutMs = prod.config.limits?.startTimeoutMs ?? 5000;

describe('adversarial: half-open streams', () => {
  let g: TestGateway;
  before(async () => {
    g = await startGateway(prod.config);
  });
  after(() => g.close());

  it('streams that never start are refused past the ceiling, give way to real calls, and are closed at the deadline', async () => {
    const extra = size(10, 200);
    const ceiling = capacity + Math.max(2, Math.ceil(capacity / 10));
    const opened = await Promise.all(
      Array.from({ length: capacity + extra }, () => openStream(g.url, capturedUpgrade(base, newCallSid()))),
    );
    const taken = opened.filter((s) => s.status === 101);
    const refused = opened.filter((s) => s.status === 503);
    assert.ok(taken.length <= ceiling, `${taken.length} taken`);
    assert.ok(refused.length >= capacity + extra - ceiling, `${refused.length} upgrades refused with 503`);
    assert.equal(g.gateway.activeCalls, 0, 'a stream that never started is not a call');
    const status = (await (await fetch(`${g.internalUrl}/status`)).json()) as {
      activeCalls: number;
      capacity: number;
    };
    assert.equal(status.activeCalls, 0);
    assert.equal(status.capacity, capacity);
    const t0 = Date.now();
    // The pod is full of half-open streams: after a second they give way to real calls.
    await sleep(1100);
    const real = await Promise.all(
      [0, 1].map(() => g.call({ publicBaseUrl: base, audio: speechPattern(1200), hangupAfterMs: 2500 })),
    );
    for (const r of real) {
      assert.equal(r.kind, 'stream', 'a real call gets in while the pod is full of half-open streams');
      assert.ok(r.agentAudioMs > 500, 'and is answered');
    }
    assert.ok((await g.metric('callfleet_streams_refused_total', 'reason="evicted"')) >= 2);
    const codes = await Promise.all(taken.map((s) => closedWithin(s, startTimeoutMs + 2000)));
    assert.ok(
      codes.every((c) => c !== 0),
      `every half-open stream closed within the deadline (${Date.now() - t0} ms)`,
    );
    await until(() => g.gateway.sessions.size === 0, 2000, 'slots freed');
    assert.ok(
      (await g.metric('callfleet_streams_refused_total', 'reason="start_timeout"')) >= taken.length - 2,
    );
    assert.ok((await g.metric('callfleet_streams_refused_total', 'reason="capacity"')) >= refused.length);
  });

  it('a stream that never started never delays a drain', async () => {
    const d = await startGateway(prod.config);
    try {
      const halfOpen = await Promise.all(
        Array.from({ length: 5 }, () => openStream(d.url, capturedUpgrade(base, newCallSid()))),
      );
      assert.ok(halfOpen.every((s) => s.status === 101));
      const t0 = Date.now();
      const result = await Promise.race([d.gateway.drain(), sleep(3000).then(() => 'stuck' as const)]);
      assert.equal(result, 'drained', 'the drain ends at once: no call is live');
      assert.ok(Date.now() - t0 < 1000, `drained in ${Date.now() - t0} ms`);
      const codes = await Promise.all(halfOpen.map((s) => closedWithin(s, 2000)));
      assert.ok(
        codes.every((c) => c !== 0),
        'the half-open streams are closed with the drain',
      );
    } finally {
      await d.close();
    }
  });
});

describe('adversarial: keep-alive', () => {
  it('a peer that answers no ping and sends nothing is closed; a quiet peer that pongs is not', async () => {
    const g = await startGateway({ ...prod.config, limits: { ...prod.config.limits, pingIntervalMs: 300 } });
    try {
      const dead = await rawCall(g.url, base, { autoPong: false });
      const quiet = await rawCall(g.url, base);
      assert.equal(dead.status, 101);
      await until(() => g.gateway.activeCalls === 2, 3000, 'both calls started');
      assert.notEqual(await closedWithin(dead, 2500), 0, 'the dead peer was closed');
      assert.equal(await closedWithin(quiet, 500), 0, 'the quiet peer that answers pings stays');
      assert.equal(g.gateway.activeCalls, 1);
      quiet.ws.close();
    } finally {
      await g.close();
    }
  });
});

describe('adversarial: an agent floods a caller who stopped reading', () => {
  it('the gateway drops what the caller cannot take: memory stays bounded', async () => {
    const seconds = size(3, 10);
    // The agent backend: answers every call with audio, as fast as its socket takes it.
    const backend = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => backend.once('listening', r));
    const chunk = JSON.stringify({ type: 'audio', audio: Buffer.alloc(1600, 0x55).toString('base64') });
    let sent = 0;
    backend.on('connection', (ws) => {
      // Bounded per tick too: on a loaded machine the socket may drain as fast as this loop fills it,
      // and an unbounded loop would never yield (the test process itself would run out of memory).
      const pump = setInterval(() => {
        for (let n = 0; n < 256 && ws.readyState === ws.OPEN && ws.bufferedAmount < 256 * 1024; n++) {
          ws.send(chunk);
          sent += chunk.length;
        }
      }, 5);
      ws.on('close', () => clearInterval(pump));
      ws.on('error', () => {});
    });
    const port = (backend.address() as { port: number }).port;
    const ws = production('voiceagent-websocket');
    const config = {
      ...ws.config,
      agent: { ...ws.config.agent, websocket: { url: `ws://127.0.0.1:${port}/agent` } },
    };
    const gw = await startGatewayProcess(config);
    try {
      const callers = await Promise.all([0, 1, 2].map(() => rawCall(gw.url, ws.config.publicBaseUrl)));
      await sleep(300);
      // The callers stop reading: their sockets are paused, the kernel buffers fill, then the gateway's.
      for (const c of callers) (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      const rss0 = gw.rss();
      let peak = rss0;
      const end = Date.now() + seconds * 1000;
      while (Date.now() < end) {
        peak = Math.max(peak, gw.rss());
        await sleep(100);
      }
      const metrics = await (await fetch(`${gw.internalUrl}/metrics`)).text();
      const dropped = Number(
        /callfleet_frames_dropped_total\{reason="twilio_backpressure"\} (\d+)/.exec(metrics)?.[1],
      );
      assert.equal(gw.exited(), undefined, 'no crash');
      assert.ok(sent > 20 * 1024 * 1024 * (seconds / 10), `the backend flooded ${sent >> 20} MB`);
      assert.ok(dropped > 0, 'frames the caller cannot take are dropped and counted');
      assert.ok(peak - rss0 < 64 * 1024 * 1024, `RSS grew ${(peak - rss0) >> 20} MB under the flood`);
      for (const c of callers) c.ws.terminate();
    } finally {
      await gw.stop();
      backend.close();
    }
  });
});
