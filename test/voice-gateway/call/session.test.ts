// The media-stream rules of test/fixtures/twilio-media-streams.json, driven by the simulator.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeElevenLabs } from '../../fakes/elevenlabs.ts';
import fixture from '../../fixtures/twilio-media-streams.json' with { type: 'json' };
import { type OutboundMessage, silence, speechPattern } from '../../simulator/call.ts';
import { sleep, startGateway, type TestGateway, until } from '../helpers.ts';

const allowedOut = new Set(Object.keys(fixture.outbound_allowed));

describe('media stream session (echo backend)', () => {
  let g: TestGateway;
  before(async () => {
    g = await startGateway({ agent: { provider: 'echo', echo: { pauseMs: 300 } } });
  });
  after(() => g.close());

  it('sends only media/mark/clear with our streamSid, marks every chunk, and echoes speech after a pause', async () => {
    const seen: OutboundMessage[] = [];
    const r = await g.call({
      audio: Buffer.concat([silence(800), speechPattern(600, 600, 0)]),
      hangupAfterMs: 3000,
      record: true,
      onMessage: (m) => seen.push(m),
    });
    assert.equal(r.kind, 'stream');
    assert.equal(r.invalidOutbound, 0);
    for (const m of seen) assert.ok(allowedOut.has(m.event), `server sent ${m.event}`);
    assert.ok(r.mediaReceived > 0);
    assert.equal(r.marksReceived, r.mediaReceived, 'one mark after every agent chunk');
    assert.equal(r.marksEchoed, r.marksReceived);
    // greeting (600 ms) + echo of 600 ms of speech
    assert.ok(r.agentAudioMs >= 1100, `agent audio ${r.agentAudioMs} ms`);
    assert.ok((r.agentAudio?.length ?? 0) >= 1100 * 8);
    assert.equal(r.responseLatencyMs.length, 1);
  });

  it('barge-in: the caller talking over the agent gets a clear and pending marks return', async () => {
    const r = await g.call({
      audio: Buffer.concat([silence(100), speechPattern(400, 400, 0)]),
      hangupAfterMs: 2500,
    });
    assert.ok(r.clears >= 1, 'Twilio was told to clear');
    assert.equal(r.marksEchoed, r.marksReceived, 'every mark comes back (cleared ones at once)');
  });

  it('forwards DTMF to the backend (echo answers with a tone)', async () => {
    const call = await g.start({ audio: silence(100), hangupAfterMs: 2500 });
    await until(() => call.result.mediaReceived >= 3, 3000, 'greeting');
    const before = call.result.mediaReceived;
    await sleep(700);
    call.sendDtmf('5');
    await until(() => call.result.mediaReceived > before, 2000, 'dtmf reply');
    call.hangup();
    await call.done;
  });

  it('malformed frames are counted and never end the call', async () => {
    const before = await g.metric('callfleet_frames_malformed_total', 'reason="invalid_json"');
    const call = await g.start({
      audio: Buffer.concat([silence(600), speechPattern(400, 400, 0)]),
      hangupAfterMs: 2500,
    });
    await until(() => call.result.mediaReceived >= 1, 3000);
    const ws = call.ws as import('ws').WebSocket;
    ws.send(Buffer.from([1, 2, 3]), { binary: true });
    ws.send('{not json');
    ws.send('{"event":"bogus"}');
    ws.send('{"event":"media","streamSid":"MZwrong","media":{"payload":"AAAA"}}');
    ws.send('{"event":"media","streamSid":"x"}');
    ws.send(`{"event":"media","streamSid":"${call.streamSid}","media":{"payload":"${'A'.repeat(10000)}"}}`);
    const r = await call.done;
    assert.equal(r.endedBy, 'caller', 'the call ran to its end');
    assert.ok(r.agentAudioMs > 900, 'echo still answered after the garbage');
    assert.equal(await g.metric('callfleet_frames_malformed_total', 'reason="invalid_json"'), before + 1);
    for (const reason of ['binary', 'unknown_event', 'wrong_stream_sid', 'missing_fields', 'oversize']) {
      assert.ok((await g.metric('callfleet_frames_malformed_total', `reason="${reason}"`)) >= 1, reason);
    }
  });
});

describe('ending calls politely', () => {
  it('max call duration: a goodbye through the Twilio REST API, not a cut', async () => {
    const g = await startGateway({
      calls: { maxDurationSeconds: 1, silenceTimeoutSeconds: 30, goodbye: 'Bye now' },
    });
    try {
      const r = await g.call({ audio: speechPattern(4000), hangupAfterMs: 5000 });
      assert.equal(r.endedBy, 'redirect');
      assert.match(r.redirectTwiml ?? '', /<Say>Bye now<\/Say><Hangup\/>/);
      assert.ok(r.durationMs < 2500);
      assert.equal(await g.metric('callfleet_calls_total', 'outcome="max_duration"'), 1);
    } finally {
      await g.close();
    }
  });

  it('silence timeout ends a silent call with a goodbye', async () => {
    const g = await startGateway({
      agent: { echo: { greeting: false } },
      calls: { silenceTimeoutSeconds: 1 },
    });
    try {
      const r = await g.call({ audio: silence(100), hangupAfterMs: 5000 });
      assert.equal(r.endedBy, 'redirect');
      assert.match(r.redirectTwiml ?? '', /<Say>Thank you for calling/);
      assert.equal(await g.metric('callfleet_calls_total', 'outcome="silence_timeout"'), 1);
    } finally {
      await g.close();
    }
  });

  it('a backend dropping mid-call gives the caller the fallback, not silence', async () => {
    const el = new FakeElevenLabs();
    const elUrl = await el.start();
    const g = await startGateway({
      agent: { provider: 'elevenlabs', elevenlabs: { agentId: 'a', baseUrl: elUrl } },
      calls: { fallback: { say: 'Connecting you to a human', dial: '+14155550123' } },
    });
    try {
      const call = await g.start({ audio: silence(100), hangupAfterMs: 5000 });
      await until(() => call.result.mediaReceived > 0, 3000, 'greeting');
      el.dropAll();
      const r = await call.done;
      assert.equal(r.endedBy, 'redirect');
      assert.match(r.redirectTwiml ?? '', /<Say>Connecting you to a human<\/Say><Dial>\+14155550123<\/Dial>/);
      assert.equal(await g.metric('callfleet_calls_total', 'outcome="backend_failed"'), 1);
      assert.equal(await g.metric('callfleet_backend_errors_total', 'provider="elevenlabs"'), 1);
    } finally {
      await g.close();
      await el.stop();
    }
  });
});
