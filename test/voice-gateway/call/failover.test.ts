// Standby backends (agent.fallbacks): real gateway, the call simulator, the fake ElevenLabs (primary)
// and the fake OpenAI Realtime (standby) failing as the services do.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resumeTranscript, TurnAudio, turnAudioBlocksHeld } from '../../../voice-gateway/call/failover.ts';
import type { GatewayConfigInput } from '../../../voice-gateway/config/schema.ts';
import { FakeElevenLabs } from '../../fakes/elevenlabs.ts';
import { FakeOpenAiRealtime } from '../../fakes/openai-realtime.ts';
import { type SimulatedCall, silence, speechPattern } from '../../simulator/call.ts';
import { sleep, startGateway, until } from '../helpers.ts';

const GREETING_MS = 400;
const REPLY_MS = 600;

async function setup(agent: Partial<GatewayConfigInput['agent']> = {}) {
  const el = new FakeElevenLabs({ greetingMs: GREETING_MS, replyMs: REPLY_MS });
  const oa = new FakeOpenAiRealtime('sk-test', REPLY_MS);
  const elUrl = await el.start();
  const oaUrl = await oa.start();
  const g = await startGateway(
    {
      agent: {
        provider: 'elevenlabs',
        elevenlabs: { agentId: 'agent_1', baseUrl: elUrl },
        openaiRealtime: { model: 'gpt-realtime', baseUrl: oaUrl },
        fallbacks: ['openai-realtime'],
        ...agent,
      },
      calls: { maxConcurrentPerPod: 200, silenceTimeoutSeconds: 60 },
      limits: { queueFrames: 1000, pendingAudioBytes: 256 * 1024 },
    },
    { secrets: { openaiApiKey: 'sk-test' } },
  );
  return {
    el,
    oa,
    g,
    async close() {
      await g.close();
      await el.stop();
      await oa.stop();
    },
  };
}

/** The caller: a greeting's worth of silence, one question (600 ms of speech), then silence. */
const question = () => Buffer.concat([silence(900), speechPattern(600, 600, 0), silence(200)]);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

describe('standby backends (agent.fallbacks)', () => {
  it('50 live calls: ElevenLabs drops every conversation at once, all continue on the OpenAI standby', async () => {
    const N = Number(process.env.FAILOVER_N ?? 50);
    // The primary 'thinks' (holds every question) until it drops: a long stallSeconds keeps that from
    // counting as a stall on a loaded machine (stalls have their own test below).
    const t = await setup({ stallSeconds: 60, circuitBreaker: { failureThreshold: 5, openSeconds: 60 } });
    const { el, oa, g } = t;
    try {
      el.turnMode = 'hold'; // every caller's question is pending when the primary dies
      let dropAt = 0;
      const afterDrop = new Map<SimulatedCall, { firstMs: number; audioMs: number }>();
      const calls: SimulatedCall[] = [];
      for (let i = 0; i < N; i++) {
        calls.push(
          await g.start({
            audio: question(),
            hangupAfterMs: 90_000,
            onMessage: (msg, call) => {
              if (!dropAt || msg.event !== 'media') return;
              const ms = ((msg.media?.payload.length ?? 0) * 3) / 4 / 8;
              const seen = afterDrop.get(call);
              if (seen) seen.audioMs += ms;
              else afterDrop.set(call, { firstMs: performance.now() - dropAt, audioMs: ms });
            },
          }),
        );
      }
      await until(
        () => el.conversations.length === N && el.conversations.every((c) => c.turns >= 1),
        20_000,
        'every question pending on ElevenLabs',
      );
      await sleep(700); // the gateway has seen every question end (500 ms of silence) as well
      assert.ok(el.conversations.every((c) => c.greeted && c.answers === 0));

      el.failConnections = true;
      dropAt = performance.now();
      el.dropAll();
      await until(() => afterDrop.size === N, 15_000, 'every call answered by the standby').catch(
        async (e) => {
          // On a failure say what became of the calls not answered (e.g. the standby unreachable on an overloaded machine).
          const missing = calls.filter((c) => !afterDrop.has(c)).map((c) => c.result);
          const down = await g.metric(
            'callfleet_failovers_total',
            'from="openai-realtime",to="none",reason="connect_failed"',
          );
          throw new Error(
            `${(e as Error).message}: ${missing.length} not answered (${down} found the standby down too): ${missing.map((r) => `${r.endedBy} ${r.redirectTwiml ?? ''}`).join(' | ')}`,
          );
        },
      );
      await sleep(REPLY_MS + 300);

      assert.equal(oa.sessions.length, N, 'one standby session per call');
      for (const s of oa.sessions) {
        const session = s.sessionUpdate?.session as { instructions?: string };
        assert.match(session.instructions ?? '', /Do not greet the caller again/);
        assert.equal(s.responseCreates.length, 0, 'the standby never greets');
        assert.ok(s.answers >= 1, 'the pending question was answered');
      }
      for (const [call, seen] of afterDrop) {
        assert.ok(seen.audioMs <= REPLY_MS + 50, `only the answer, no second greeting (${seen.audioMs} ms)`);
        assert.ok(call.result.endedBy === 'none', 'the call is still up');
      }
      assert.equal(el.conversations.length, N, 'no call went back to the dead primary');
      assert.equal(
        await g.metric(
          'callfleet_failovers_total',
          'from="elevenlabs",to="openai-realtime",reason="dropped"',
        ),
        N,
      );
      assert.equal(await g.metric('callfleet_failover_gap_seconds_count'), N);
      const gaps = [...afterDrop.values()].map((v) => v.firstMs).sort((a, b) => a - b);
      const figures = {
        calls: N,
        gapP50Ms: Math.round(percentile(gaps, 50)),
        gapP99Ms: Math.round(percentile(gaps, 99)),
        gapMaxMs: Math.round(gaps.at(-1) as number),
        metricGapMeanMs: Math.round(((await g.metric('callfleet_failover_gap_seconds_sum')) / N) * 1000),
      };
      console.log(JSON.stringify({ failoverGap: figures }));
      // The aim is p99 < 1.5 s (measured about 0.7 s on an idle machine); the default bound leaves room
      // for a machine shared by many test runs; FAILOVER_GAP_P99_MS=1500 holds it to the aim.
      const bound = Number(process.env.FAILOVER_GAP_P99_MS ?? 8000);
      assert.ok(figures.gapP99Ms < bound, `caller-perceived gap p99 ${figures.gapP99Ms} ms (bound ${bound})`);

      // Calls starting during the outage go straight to the standby (the primary's circuit is open).
      assert.equal(await g.metric('callfleet_circuit_open', 'provider="elevenlabs"'), 1);
      const elSignedBefore = el.signedUrlRequests;
      const during = await Promise.all(
        [0, 1, 2].map(() => g.start({ audio: question(), hangupAfterMs: 4000 })),
      );
      const results = await Promise.all(during.map((c) => c.done));
      for (const r of results) {
        assert.equal(r.kind, 'stream');
        assert.equal(r.endedBy, 'caller');
        assert.ok(r.agentAudioMs >= REPLY_MS - 50, 'answered by the standby');
      }
      assert.equal(el.signedUrlRequests, elSignedBefore, 'the open circuit is not even tried');
      assert.equal(oa.sessions.length, N + 3);
      assert.equal(
        await g.metric(
          'callfleet_failovers_total',
          'from="elevenlabs",to="openai-realtime",reason="circuit_open"',
        ),
        3,
      );

      for (const c of calls) c.hangup();
      await Promise.all(calls.map((c) => c.done));
      await sleep(100);
      assert.equal(await g.metric('callfleet_calls_total', 'outcome="completed"'), N + 3);
      assert.equal(await g.metric('callfleet_calls_total', 'outcome="backend_failed"'), 0);
    } finally {
      await t.close();
    }
  });

  it('a stalled primary (open socket, no events) is detected within stallSeconds and failed over; the primary is used again once its circuit closes', async () => {
    const t = await setup({
      stallSeconds: 1.5,
      circuitBreaker: { failureThreshold: 1, openSeconds: 5 },
    });
    const { el, oa, g } = t;
    try {
      el.turnMode = 'stall';
      const r = await g.call({ audio: question(), hangupAfterMs: 4000 });
      const openedAt = Date.now(); // the circuit opened before this (at the stall)
      assert.equal(r.endedBy, 'caller');
      assert.equal(el.conversations.length, 1);
      assert.equal(el.conversations[0]?.ws.readyState, 3, 'the gateway closed the stalled conversation');
      assert.equal(oa.sessions.length, 1);
      assert.equal(oa.sessions[0]?.answers, 1, 'the standby answered the pending question');
      // Last speech frame → answer: 1.5 s stall detection (+ the 250 ms ticker) + connect + reply.
      const latency = r.responseLatencyMs.at(-1) ?? 0;
      assert.ok(latency >= 1500 && latency < 4000, `answered ${latency} ms after the question`);
      assert.equal(
        await g.metric(
          'callfleet_failovers_total',
          'from="elevenlabs",to="openai-realtime",reason="stalled"',
        ),
        1,
      );
      assert.equal(await g.metric('callfleet_circuit_open', 'provider="elevenlabs"'), 1);

      // While the circuit is open: straight to the standby.
      el.turnMode = 'answer';
      const during = await g.call({ audio: question(), hangupAfterMs: 2500 });
      assert.ok(during.agentAudioMs >= REPLY_MS - 50);
      assert.equal(el.conversations.length, 1);
      assert.equal(oa.sessions.length, 2);

      // After openSeconds: a trial call on the primary closes the circuit, and later calls stay there.
      await sleep(Math.max(0, openedAt + 5100 - Date.now()));
      const trial = await g.call({ audio: question(), hangupAfterMs: 3000 });
      assert.equal(el.conversations.length, 2, 'the trial call is on the primary');
      assert.ok(
        Math.abs(trial.agentAudioMs - (GREETING_MS + REPLY_MS)) < 10,
        'greeted and answered by the primary',
      );
      assert.equal(await g.metric('callfleet_circuit_open', 'provider="elevenlabs"'), 0);
      await g.call({ audio: question(), hangupAfterMs: 3000 });
      assert.equal(el.conversations.length, 3);
      assert.equal(oa.sessions.length, 2, 'the standby is no longer used');
    } finally {
      await t.close();
    }
  });

  it('a healthy backend whose VAD answers before the gateway sees the caller stop is never taken for stalled', async () => {
    const t = await setup({ stallSeconds: 1 });
    const { el, g } = t;
    try {
      // Short bursts with long pauses: the fake answers 300 ms after each burst, the gateway's own end of
      // speech comes at 500 ms; nothing is sent between the answers for far longer than stallSeconds.
      const r = await g.call({ audio: speechPattern(12_000, 400, 2600), hangupAfterMs: 12_000 });
      assert.equal(r.endedBy, 'caller');
      assert.ok((el.conversations[0]?.answers ?? 0) >= 3);
      assert.equal(
        await g.metric(
          'callfleet_failovers_total',
          'from="elevenlabs",to="openai-realtime",reason="stalled"',
        ),
        0,
      );
      assert.equal(t.oa.sessions.length, 0);
    } finally {
      await t.close();
    }
  });

  it('without a standby a stalled backend is waited for, not cut (a slow backend beats no backend)', async () => {
    const t = await setup({ fallbacks: [], stallSeconds: 1 });
    const { el, g } = t;
    try {
      el.turnMode = 'stall';
      const r = await g.call({ audio: question(), hangupAfterMs: 4500 });
      assert.equal(r.endedBy, 'caller');
      assert.equal(await g.metric('callfleet_calls_total', 'outcome="completed"'), 1);
      assert.equal(
        await g.metric('callfleet_failovers_total', 'from="elevenlabs",to="none",reason="stalled"'),
        0,
      );
    } finally {
      await t.close();
    }
  });

  it("keeps the caller's pending turn only when there is a standby to replay it to", async () => {
    const speakingHolds = async (fallbacks: ('openai-realtime' | 'websocket')[]) => {
      const t = await setup({ fallbacks });
      try {
        t.el.turnMode = 'hold'; // the question stays unanswered: its audio is the pending turn
        const call = await t.g.start({ audio: question(), hangupAfterMs: 2500 });
        await until(() => call.result.mediaReceived > 0, 3000, 'greeting');
        await sleep(1300); // past the question (900 ms of silence, then 600 ms of speech)
        const held = turnAudioBlocksHeld();
        await call.done;
        return held;
      } finally {
        await t.close();
      }
    };
    assert.ok((await speakingHolds(['openai-realtime'])) >= 1);
    assert.equal(turnAudioBlocksHeld(), 0, 'an ended call gives its blocks back');
    assert.equal(await speakingHolds([]), 0);
  });

  it('only when every backend is down does the caller get calls.fallback', async () => {
    const t = await setup();
    const { el, oa, g } = t;
    try {
      const call = await g.start({ audio: silence(100), hangupAfterMs: 5000 });
      await until(() => call.result.mediaReceived > 0, 3000, 'greeting');
      oa.failConnections = true;
      el.dropAll();
      const r = await call.done;
      assert.equal(r.endedBy, 'redirect');
      assert.match(r.redirectTwiml ?? '', /<Say>Sorry, all our agents are busy/);
      assert.equal(await g.metric('callfleet_calls_total', 'outcome="backend_failed"'), 1);
      assert.equal(
        await g.metric(
          'callfleet_failovers_total',
          'from="openai-realtime",to="none",reason="connect_failed"',
        ),
        1,
      );

      el.failConnections = true;
      const start = await g.call({ audio: silence(100), hangupAfterMs: 3000 });
      assert.equal(start.endedBy, 'redirect');
      assert.equal(await g.metric('callfleet_calls_total', 'outcome="backend_unavailable"'), 1);
    } finally {
      await t.close();
    }
  });
});

describe('the pending turn a standby is given', () => {
  // Frames go in as decoded bytes (as the session decoded them) and come back as base64, one per frame.
  const push = (t: TurnAudio, text: string, speaking: boolean) => {
    const src = Buffer.from(`..${text}..`);
    t.push(src, 2, src.length - 2, speaking);
  };
  const b64 = (text: string) => Buffer.from(text).toString('base64');

  it('keeps a short pre-roll while nobody speaks, the whole turn once the caller speaks, until answered', () => {
    const t = new TurnAudio(10_000);
    for (let i = 0; i < 30; i++) push(t, `q${i}`, false);
    assert.equal(t.pending, false);
    push(t, 's0', true);
    push(t, 's1', true);
    push(t, 'tail', false);
    assert.equal(t.pending, true);
    const frames = t.take();
    assert.deepEqual(frames.slice(-3), ['s0', 's1', 'tail'].map(b64));
    assert.equal(frames.length, 13, '10 frames of pre-roll');
    assert.deepEqual(
      frames.slice(0, 10),
      Array.from({ length: 10 }, (_, i) => b64(`q${20 + i}`)),
    );
    assert.equal(t.pending, false);
    push(t, 's2', true);
    t.answered();
    assert.equal(t.pending, false);
    assert.deepEqual(t.take(), []);
  });

  it('is bounded in bytes (the oldest audio goes first)', () => {
    const t = new TurnAudio(1000);
    for (let i = 0; i < 100; i++) push(t, String(i % 10).repeat(100), true);
    const frames = t.take();
    assert.equal(frames.length, 10);
    assert.deepEqual(
      frames,
      Array.from({ length: 10 }, (_, i) => b64(String(i).repeat(100))),
    );
  });

  it('holds a long utterance exactly, frame by frame, however the buffer moves and grows', () => {
    const t = new TurnAudio(160 * 1024);
    const sent: string[] = [];
    for (let i = 0; i < 1500; i++) {
      const frame = Buffer.alloc(160, i % 251);
      frame.writeUInt32BE(i);
      sent.push(frame.toString('base64'));
      t.push(frame, 0, 160, i >= 5);
    }
    const frames = t.take();
    assert.equal(frames.length, Math.floor((160 * 1024) / 160));
    assert.deepEqual(frames, sent.slice(-frames.length));
    // Afterwards it starts over small: the pre-roll again.
    for (let i = 0; i < 30; i++) t.push(Buffer.alloc(160, i), 0, 160, false);
    t.push(Buffer.alloc(160, 99), 0, 160, true);
    assert.equal(t.take().length, 11);
  });

  it('leaves the pending caller turn out of the resumed transcript (its audio is replayed)', () => {
    const turns = [
      { role: 'agent' as const, text: 'Hello', atMs: 0 },
      { role: 'caller' as const, text: 'What time do you open?', atMs: 900 },
    ];
    assert.deepEqual(resumeTranscript(turns, true), turns.slice(0, 1));
    assert.deepEqual(resumeTranscript(turns, false), turns);
  });
});
