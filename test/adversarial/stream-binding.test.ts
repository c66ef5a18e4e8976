// Issue 15, hole 1: a stream acts only on the call its credential names. An attacker holds one
// captured signed upgrade (of a call of their own) and tries to act on another live call: name its
// sid and its caller's number in `start`, replay a credential, forge or outlive one, or flood the
// pod with the same upgrade. The victim's call, caller memory and Twilio call stay untouched.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { StreamCredentials } from '../../voice-gateway/twilio/stream-credential.ts';
import { newCallSid, speechPattern } from '../simulator/call.ts';
import { ACCOUNT_SID, STREAM_KEY, startGateway, type TestGateway, until } from '../voice-gateway/helpers.ts';
import {
  capturedUpgrade,
  closedWithin,
  credentialOf,
  openStream,
  production,
  size,
  sleep,
  startFrame,
  voiceWebhook,
  WatchedMemory,
} from './harness.ts';

const VICTIM = '+14155550100';
const ATTACKER = '+14155550666';
const prod = production();
const base = prod.config.publicBaseUrl;

describe('adversarial: a stream is bound to the webhook that issued it', () => {
  let g: TestGateway;
  let memory: WatchedMemory;
  before(async () => {
    memory = new WatchedMemory();
    memory.know(VICTIM, 'the victim asked about their mortgage');
    g = await startGateway(prod.config, { memory });
  });
  after(() => g.close());

  const victimLookups = () => memory.lookups.filter((p) => p === VICTIM).length;

  it("cross-call start: another live call's sid and caller are refused; the victim is untouched", async () => {
    const victim = await g.start({
      publicBaseUrl: base,
      from: VICTIM,
      audio: speechPattern(2500, 800, 700),
      hangupAfterMs: 4000,
    });
    await until(() => victim.result.mediaReceived > 0, 5000, 'victim call answered');
    assert.equal(victimLookups(), 1, "the victim's own lookup");
    const refusedBefore = await g.metric('callfleet_streams_refused_total', 'reason="call_mismatch"');

    // The attacker's own call: a signed webhook gives a credential for the attacker's sid only.
    const attackerSid = newCallSid();
    const credential = credentialOf(
      await voiceWebhook(g.url, base, { callSid: attackerSid, from: ATTACKER }),
    );
    const s = await openStream(g.url, capturedUpgrade(base, attackerSid));
    assert.equal(s.status, 101);
    s.ws.send(
      startFrame(victim.callSid, 'MZattacker', {
        callfleet_stream: credential,
        From: VICTIM,
        To: '+14155550199',
        CallSid: victim.callSid,
      }),
    );
    assert.equal(await closedWithin(s, 2000), 1008, 'the stream is closed as a policy violation');
    assert.equal(
      await g.metric('callfleet_streams_refused_total', 'reason="call_mismatch"'),
      refusedBefore + 1,
    );

    // The same captured upgrade with the attacker's sid but the victim's number as From: the
    // credential's caller (the attacker) is the only caller the stream may use.
    const sid2 = newCallSid();
    const cred2 = credentialOf(await voiceWebhook(g.url, base, { callSid: sid2, from: ATTACKER }));
    const s2 = await openStream(g.url, capturedUpgrade(base, sid2));
    s2.ws.send(startFrame(sid2, 'MZattacker2', { callfleet_stream: cred2, From: VICTIM }));
    await until(() => memory.lookups.includes(ATTACKER), 3000, "the attacker's own lookup");
    s2.ws.close();

    const r = await victim.done;
    assert.equal(r.endedBy, 'caller', 'the victim call ran to its end');
    assert.ok(r.agentAudioMs > 1000, `the victim was answered: ${r.agentAudioMs} ms`);
    await sleep(300);
    assert.equal(victimLookups(), 1, "the victim's memory was read only for the victim's call");
    const victimRecords = memory.records.filter((c) => c.from === VICTIM);
    assert.deepEqual(
      victimRecords.map((c) => c.callSid),
      [victim.callSid],
      "only the victim's own call was recorded under the victim's number",
    );
    assert.equal(
      g.rest.updates.filter((u) => u.callSid === victim.callSid).length,
      0,
      'no Twilio REST action on the victim call',
    );
  });

  it('a replayed credential opens no second stream', async () => {
    const call = await g.start({
      publicBaseUrl: base,
      from: ATTACKER,
      audio: speechPattern(1500),
      hangupAfterMs: 3000,
    });
    await until(() => call.result.mediaReceived > 0, 5000, 'call answered');
    const credential = credentialOf(call.result.twiml);
    const before = await g.metric('callfleet_streams_refused_total', 'reason="credential_replayed"');
    const s = await openStream(g.url, capturedUpgrade(base, call.callSid));
    assert.equal(s.status, 101);
    s.ws.send(startFrame(call.callSid, 'MZreplay', { callfleet_stream: credential }));
    assert.equal(await closedWithin(s, 2000), 1008);
    assert.equal(
      await g.metric('callfleet_streams_refused_total', 'reason="credential_replayed"'),
      before + 1,
    );
    assert.equal(g.gateway.activeCalls, 1, 'one call, one stream');
    const r = await call.done;
    assert.equal(r.endedBy, 'caller');
  });

  const forged: [string, string, (sid: string) => Promise<Record<string, string>>][] = [
    [
      'expired',
      'credential_expired',
      async (sid) => ({
        callfleet_stream: new StreamCredentials(STREAM_KEY).issue(
          { callSid: sid, accountSid: ACCOUNT_SID, from: VICTIM, to: '+14155550199' },
          Date.now() - 61_000,
        ),
      }),
    ],
    [
      'signed with another key',
      'credential_invalid',
      async (sid) => ({
        callfleet_stream: new StreamCredentials('an-attacker-key-0123456789abcdefghijkl').issue({
          callSid: sid,
          accountSid: ACCOUNT_SID,
          from: VICTIM,
          to: '+14155550199',
        }),
      }),
    ],
    [
      'altered (caller swapped, signature kept)',
      'credential_invalid',
      async (sid) => {
        const real = credentialOf(await voiceWebhook(g.url, base, { callSid: sid, from: ATTACKER }));
        const [body, mac] = real.split('.') as [string, string];
        const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as unknown[];
        claims[3] = VICTIM;
        return { callfleet_stream: `${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${mac}` };
      },
    ],
    ['missing (bare From only)', 'credential_missing', async () => ({ From: VICTIM })],
  ];
  for (const [what, reason, params] of forged) {
    it(`refuses a credential: ${what}`, async () => {
      const sid = newCallSid();
      const lookups = victimLookups();
      const before = await g.metric('callfleet_streams_refused_total', `reason="${reason}"`);
      const s = await openStream(g.url, capturedUpgrade(base, sid));
      assert.equal(s.status, 101);
      s.ws.send(startFrame(sid, 'MZforged', await params(sid)));
      assert.equal(await closedWithin(s, 2000), 1008);
      assert.equal(await g.metric('callfleet_streams_refused_total', `reason="${reason}"`), before + 1);
      assert.equal(victimLookups(), lookups, 'no memory read');
      assert.equal(g.rest.updates.filter((u) => u.callSid === sid).length, 0, 'no REST action');
    });
  }

  const REPLAYS = size(200, 1000);
  it(`${REPLAYS} concurrent replays of one signed upgrade: the ceiling holds, real calls are answered`, async () => {
    const ceiling = prod.config.calls?.maxConcurrentPerPod ?? 20;
    const upgrade = capturedUpgrade(base, newCallSid());
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, g.gateway.sessions.size);
    }, 2);
    const real = [0, 1, 2].map(() =>
      g.call({ publicBaseUrl: base, audio: speechPattern(1500, 600, 600), hangupAfterMs: 3000 }),
    );
    const replays = await Promise.all(Array.from({ length: REPLAYS }, () => openStream(g.url, upgrade)));
    const taken = replays.filter((s) => s.status === 101).length;
    const results = await Promise.all(real);
    clearInterval(sampler);
    for (const s of replays) s.ws.terminate();
    assert.ok(taken <= 1, `a signed upgrade holds at most one pending stream (${taken} taken)`);
    assert.ok(peak <= ceiling + 3 + 2, `open streams peaked at ${peak}`);
    for (const r of results) {
      assert.equal(r.kind, 'stream');
      assert.equal(r.endedBy, 'caller');
      assert.ok(r.agentAudioMs > 500, `real call answered: ${r.agentAudioMs} ms`);
    }
    assert.ok(
      (await g.metric('callfleet_streams_refused_total', 'reason="duplicate_pending"')) >= REPLAYS - 1,
      'the replays are counted',
    );
  });
});
