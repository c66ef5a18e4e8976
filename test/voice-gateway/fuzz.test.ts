// Fuzz: 100k malformed frames over many signed connections. No crash, bounded memory, and the
// well-behaved calls running alongside keep getting their audio.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { speechPattern } from '../simulator/call.ts';
import { sleep, startGateway, until } from './helpers.ts';

const TOTAL = 100_000;
const CONNECTIONS = 40;

function malformed(i: number, streamSid: string): string | Buffer {
  switch (i % 10) {
    case 0:
      return randomBytes(64);
    case 1:
      return '{"event":"media","streamSid":';
    case 2:
      return `{"event":"nope${i}","streamSid":"${streamSid}"}`;
    case 3:
      return `{"event":"media","streamSid":"MZwrong","media":{"payload":"/////w=="}}`;
    case 4:
      return `{"event":"media","streamSid":"${streamSid}","media":{}}`;
    case 5:
      return `{"event":"media","streamSid":"${streamSid}","media":{"payload":"not base64!\\""}}`;
    case 6:
      return i % 1000 === 6 ? `{"event":"media","x":"${'A'.repeat(10_000)}"}` : '[1,2,3]';
    case 7:
      return `{"event":"mark","streamSid":"${streamSid}","mark":{"name":"${i}"}}`;
    case 8:
      return randomBytes(32).toString('latin1');
    default:
      return `{"event":"dtmf","streamSid":"${streamSid}","dtmf":{}}`;
  }
}

describe('fuzz', () => {
  it(`${TOTAL} malformed frames over ${CONNECTIONS} connections: no crash, bounded memory, calls keep flowing`, async () => {
    const g = await startGateway({ agent: { echo: { pauseMs: 300 } }, calls: { maxConcurrentPerPod: 100 } });
    try {
      const good = [1, 2].map(() => g.call({ audio: speechPattern(6000, 800, 1200), hangupAfterMs: 7000 }));
      const attackers = await Promise.all(
        Array.from({ length: CONNECTIONS }, () => g.start({ sendAudio: false, hangupAfterMs: 60_000 })),
      );
      await until(() => g.gateway.sessions.size === CONNECTIONS + 2, 5000, 'all connected');
      const rss0 = process.memoryUsage().rss;
      const per = TOTAL / CONNECTIONS;
      for (let round = 0; round < per; round += 250) {
        for (const a of attackers) {
          const ws = a.ws as import('ws').WebSocket;
          for (let k = 0; k < 250; k++) ws.send(malformed(round + k, a.streamSid));
        }
        await sleep(5);
      }
      await sleep(500);
      const rss1 = process.memoryUsage().rss;
      let counted = 0;
      for (const r of [
        'binary',
        'invalid_json',
        'unknown_event',
        'missing_fields',
        'wrong_stream_sid',
        'oversize',
        'flood',
        'over_budget',
        'cpu_budget',
        'too_deep',
      ]) {
        counted += await g.metric('callfleet_frames_malformed_total', `reason="${r}"`);
      }
      assert.ok(counted >= TOTAL * 0.85, `malformed frames counted: ${counted}`);
      assert.ok(rss1 - rss0 < 150 * 1024 * 1024, `RSS grew ${(rss1 - rss0) >> 20} MB`);
      assert.equal(g.gateway.sessions.size, CONNECTIONS + 2, 'no connection was dropped');
      for (const a of attackers) a.hangup();
      const results = await Promise.all(good);
      for (const r of results) {
        assert.equal(r.endedBy, 'caller');
        assert.ok(r.agentAudioMs > 2000, `good call still answered: ${r.agentAudioMs} ms`);
        assert.equal(r.invalidOutbound, 0);
      }
    } finally {
      await g.close();
    }
  });
});
