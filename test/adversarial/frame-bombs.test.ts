// Issue 15, hole 4: memory and CPU are bounded in bytes, not frames. Nesting bombs and oversized
// frames are counted and dropped before `JSON.parse`, never fatal to the gateway; one stream of
// nested JSON cannot slow the others; calls whose backend never answers, sending the largest frames
// the gateway accepts, hold a bounded amount of memory.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { speechPattern } from '../simulator/call.ts';
import { startGateway, until } from '../voice-gateway/helpers.ts';
import {
  blackHole,
  closedWithin,
  mediaFrame,
  percentile,
  production,
  rawCall,
  size,
  sleep,
  startGatewayProcess,
} from './harness.ts';

const prod = production();
const base = prod.config.publicBaseUrl;
const limits = prod.config.limits ?? {};
/** The largest frame the gateway still reads (its hard WebSocket limit, 64 KiB before issue 15). */
const hardLimit = limits.maxPayloadBytes ?? 64 * 1024;
/** The largest media frame the gateway takes into a call. */
const mediaLimit = limits.mediaFrameBytes ?? hardLimit;

function nestingBomb(bytes: number): string {
  const depth = Math.floor((bytes - 20) / 2);
  return `{"event":"media","x":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
}

async function scrape(url: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return Number(line?.split(' ')[1] ?? 0);
}

describe('adversarial: frame bombs', () => {
  it('nesting bombs and oversized frames are counted and dropped, never fatal', async () => {
    const g = await startGateway(prod.config);
    try {
      const good = g.call({ publicBaseUrl: base, audio: speechPattern(3000, 800, 700), hangupAfterMs: 4000 });
      const attacker = await rawCall(g.url, base);
      await until(() => g.gateway.activeCalls === 2, 3000, 'both calls started');
      const bombs = size(500, 5000);
      const small = nestingBomb(Math.min(2000, mediaLimit - 10));
      const large = nestingBomb(Math.min(hardLimit - 100, 60_000));
      for (let i = 0; i < bombs; i++) {
        attacker.ws.send(i % 10 === 9 ? large : small);
        if (i % 100 === 99) await sleep(5);
      }
      await sleep(300);
      const count = (r: string) => g.metric('callfleet_frames_malformed_total', `reason="${r}"`);
      const dropped =
        (await count('too_deep')) +
        (await count('oversize')) +
        (await count('over_budget')) +
        (await count('flood'));
      assert.ok(dropped >= bombs * 0.99, `${dropped} of ${bombs} bombs counted`);
      assert.ok((await count('too_deep')) >= 1, 'nesting refused before parsing');
      assert.equal(g.gateway.activeCalls, 2, 'the attacker call is not ended by its garbage');
      // Past the hard limit the frame is never buffered: the stream closes (1009), the gateway lives.
      attacker.ws.send(`{"event":"media","x":"${'A'.repeat(hardLimit + 1024)}"}`);
      assert.equal(await closedWithin(attacker, 2000), 1009);
      const r = await good;
      assert.equal(r.endedBy, 'caller');
      assert.ok(r.agentAudioMs > 1500, `the other call kept its audio: ${r.agentAudioMs} ms`);
      assert.equal((await fetch(`${g.url}/health`)).status, 200);
    } finally {
      await g.close();
    }
  });

  it('one stream of nested JSON cannot slow the others (/health latency)', async () => {
    const gw = await startGatewayProcess(prod.config);
    try {
      const health = async (ms: number) => {
        const samples: number[] = [];
        const end = Date.now() + ms;
        while (Date.now() < end) {
          const t0 = performance.now();
          await (await fetch(`${gw.url}/health`)).text();
          samples.push(performance.now() - t0);
          await sleep(20);
        }
        return samples;
      };
      const idle = percentile(await health(1500), 50);
      const attacker = await rawCall(gw.url, base);
      await sleep(200);
      // Within the old frame-rate limit (400/s): the largest nested frames the gateway reads.
      const bomb = nestingBomb(Math.min(hardLimit, 64 * 1024) - 1024);
      let running = true;
      const pump = (async () => {
        while (running && attacker.ws.readyState === attacker.ws.OPEN) {
          for (let i = 0; i < 7; i++) attacker.ws.send(bomb);
          await sleep(20);
        }
      })();
      const attacked = percentile(await health(size(3000, 10_000)), 50);
      running = false;
      await pump;
      attacker.ws.terminate();
      assert.equal(gw.exited(), undefined, 'no crash');
      assert.ok(
        attacked < Math.max(5 * idle, 25),
        `/health p50 ${attacked.toFixed(1)} ms under attack, ${idle.toFixed(1)} ms idle`,
      );
    } finally {
      await gw.stop();
    }
  });

  it(`${size(19, 40)} calls whose backend never answers, sending the largest frames: RSS stays bounded`, async () => {
    const calls = size(19, 40);
    const hole = await blackHole();
    const ws = production('voiceagent-websocket');
    const config = {
      ...ws.config,
      calls: {
        ...ws.config.calls,
        maxConcurrentPerPod: Math.max(calls, ws.config.calls?.maxConcurrentPerPod ?? 20),
      },
      agent: { ...ws.config.agent, websocket: { url: hole.url }, connectTimeoutMs: 10_000 },
    };
    const gw = await startGatewayProcess(config);
    try {
      const started = await Promise.all(
        Array.from({ length: calls }, () => rawCall(gw.url, ws.config.publicBaseUrl)),
      );
      assert.ok(started.every((c) => c.status === 101));
      await sleep(300);
      const rss0 = gw.rss();
      let peak = rss0;
      // The largest media frame the gateway takes, 50 a second per call, for 8 s (the backend hangs).
      const payload = 'A'.repeat(Math.floor((mediaLimit - 200) / 4) * 4);
      for (let tick = 0; tick < 400; tick++) {
        for (const c of started) {
          if (c.ws.readyState === c.ws.OPEN) c.ws.send(mediaFrame(c.streamSid, payload, tick + 2));
        }
        if (tick % 10 === 0) peak = Math.max(peak, gw.rss());
        await sleep(20);
      }
      peak = Math.max(peak, gw.rss());
      const queueFull = await scrape(gw.internalUrl, 'callfleet_frames_dropped_total', 'reason="queue_full"');
      assert.equal(gw.exited(), undefined, 'no crash');
      process.stderr.write(
        `[memory] ${calls} calls, ${payload.length} B payloads: RSS ${rss0 >> 20} -> peak ${peak >> 20} MB (limit ${ws.memoryLimitBytes >> 20} MB); queue_full drops ${queueFull}\n`,
      );
      assert.ok(peak - rss0 < 48 * 1024 * 1024, `RSS grew ${(peak - rss0) >> 20} MB`);
      assert.ok(peak < 0.6 * ws.memoryLimitBytes, `RSS peak ${peak >> 20} MB`);
      for (const c of started) c.ws.terminate();
    } finally {
      await gw.stop();
      await hole.close();
    }
  });
});
