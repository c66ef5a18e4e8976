import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { computeSignature } from '../../voice-gateway/twilio/signature.ts';
import { FakeElevenLabs } from '../fakes/elevenlabs.ts';
import { silence } from '../simulator/call.ts';
import { PUBLIC_BASE_URL, startGateway, type TestGateway } from './helpers.ts';

describe('gateway HTTP surface', () => {
  let g: TestGateway;
  const el = new FakeElevenLabs();
  before(async () => {
    const elUrl = await el.start();
    g = await startGateway({
      agent: { provider: 'elevenlabs', elevenlabs: { agentId: 'agent_1', baseUrl: elUrl } },
      calls: { maxConcurrentPerPod: 2, fallback: { say: 'All busy', dial: '+14155550123' } },
    });
  });
  after(async () => {
    await g.close();
    await el.stop();
  });

  it('answers health, readiness and status', async () => {
    assert.deepEqual(await (await fetch(`${g.url}/health`)).json(), { status: 'ok' });
    assert.equal((await fetch(`${g.url}/health/ready`)).status, 200);
    assert.deepEqual(await (await fetch(`${g.internalUrl}/status`)).json(), {
      activeCalls: 0,
      capacity: 2,
      draining: false,
      callsTotal: 0,
      callsFailed: 0,
      connectingCalls: 0,
    });
    assert.equal((await fetch(`${g.url}/elevenlabs/post-call`, { method: 'POST', body: '{}' })).status, 404);
  });

  it('answers <Connect><Stream> with the call sid in the wss path and a stream credential parameter', async () => {
    const r = await g.call({
      callSid: 'CA11111111111111111111111111111111',
      from: '+14155550100',
      hangupAfterMs: 300,
    });
    assert.equal(r.kind, 'stream');
    assert.match(
      r.twiml,
      /<Connect><Stream url="wss:\/\/voice\.example\.com\/twilio\/stream\/CA11111111111111111111111111111111"/,
    );
    const credential = /<Parameter name="callfleet_stream" value="([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)"\/>/.exec(
      r.twiml,
    );
    assert.ok(credential, 'the stream credential is passed as a <Parameter>');
    assert.ok(
      `callfleet_stream${credential[1]}`.length < 500,
      'Twilio limit: name + value under 500 characters',
    );
    assert.doesNotMatch(
      r.twiml,
      /name="From"|name="To"/,
      'the caller travels only inside the signed credential',
    );
    assert.doesNotMatch(r.twiml, /<Stream url="[^"]*\?/, 'no query string on the stream URL');
  });

  for (const mode of ['wrong', 'missing', 'wrong-url'] as const) {
    it(`refuses a webhook with a ${mode} signature`, async () => {
      const r = await g.call({ signature: mode });
      assert.equal(r.kind, 'rejected');
      assert.equal(r.webhookStatus, mode === 'missing' ? 400 : 403);
    });

    it(`refuses a stream upgrade with a ${mode} signature before any backend is opened`, async () => {
      const before = el.conversations.length;
      const r = await g.call({ streamSignature: mode, hangupAfterMs: 300 });
      assert.equal(r.kind, 'stream_refused');
      assert.equal(r.webhookStatus, mode === 'missing' ? 400 : 403);
      assert.equal(el.conversations.length, before, 'no backend conversation opened');
    });
  }

  it('checks the upgrade signature against the public wss URL, not the local one', async () => {
    const port = new URL(g.url).port;
    const path = '/twilio/stream/CA22222222222222222222222222222222';
    const local = computeSignature('12345', `ws://127.0.0.1:${port}${path}`, {});
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers: { 'x-twilio-signature': local } });
    const status = await new Promise<number>((r) => {
      ws.on('unexpected-response', (_q, res) => r(res.statusCode ?? 0));
      ws.on('open', () => r(101));
      ws.on('error', () => {});
    });
    assert.equal(status, 403);
    const good = computeSignature('12345', `${PUBLIC_BASE_URL.replace('https', 'wss')}${path}`, {});
    const ws2 = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers: { 'x-twilio-signature': good } });
    await new Promise((r, j) => {
      ws2.on('open', r);
      ws2.on('error', j);
    });
    ws2.close();
  });

  it('answers the fallback (<Say> and <Dial>) at maxConcurrentPerPod', async () => {
    const a = await g.start({ audio: silence(100), hangupAfterMs: 10000 });
    const b = await g.start({ audio: silence(100), hangupAfterMs: 10000 });
    const deadline = Date.now() + 3000;
    while (g.gateway.sessions.size < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const status = (await (await fetch(`${g.internalUrl}/status`)).json()) as { activeCalls: number };
    assert.equal(status.activeCalls, 2);
    const c = await g.call();
    assert.equal(c.kind, 'fallback');
    assert.match(c.twiml, /<Say>All busy<\/Say><Dial>\+14155550123<\/Dial>/);
    assert.equal(await g.metric('callfleet_webhooks_total', 'result="fallback_capacity"'), 1);
    a.hangup();
    b.hangup();
    await Promise.all([a.done, b.done]);
  });

  it('exposes the documented metric names', async () => {
    const text = await (await fetch(`${g.internalUrl}/metrics`)).text();
    for (const name of [
      'callfleet_active_calls',
      'callfleet_calls_total',
      'callfleet_first_audio_seconds',
      'callfleet_response_latency_seconds',
      'callfleet_frames_total',
      'callfleet_frames_dropped_total',
      'callfleet_frames_malformed_total',
      'callfleet_backend_errors_total',
      'callfleet_circuit_open',
      'callfleet_draining',
      'callfleet_websocket_drops_total',
    ]) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
  });
});

describe('circuit breaker', () => {
  it('opens after 5 consecutive backend failures: callers get the fallback, at the webhook too', async () => {
    const el = new FakeElevenLabs();
    const elUrl = await el.start();
    el.failConnections = true;
    const g = await startGateway({
      agent: {
        provider: 'elevenlabs',
        elevenlabs: { agentId: 'a', baseUrl: elUrl },
        circuitBreaker: { openSeconds: 60 },
      },
      calls: { fallback: { say: 'Backend down' } },
    });
    try {
      for (let i = 0; i < 5; i++) {
        const r = await g.call({ audio: silence(200), hangupAfterMs: 5000 });
        assert.equal(r.kind, 'stream');
        assert.equal(r.endedBy, 'redirect', 'the failed call is redirected to the fallback');
        assert.match(r.redirectTwiml ?? '', /<Say>Backend down<\/Say>/);
      }
      assert.equal(await g.metric('callfleet_backend_errors_total', 'provider="elevenlabs"'), 5);
      assert.equal(await g.metric('callfleet_circuit_open', 'provider="elevenlabs"'), 1);
      el.failConnections = false;
      const r = await g.call();
      assert.equal(r.kind, 'fallback', 'webhook answers the fallback while the circuit is open');
      assert.match(r.twiml, /Backend down/);
    } finally {
      await g.close();
      await el.stop();
    }
  });
});
