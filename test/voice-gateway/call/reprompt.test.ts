// Silence re-prompts (calls.reprompt): a silent caller hears the agent re-engage after afterSeconds,
// maxCount times, then the silence timeout's goodbye, at the configured times.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeElevenLabs } from '../../fakes/elevenlabs.ts';
import { FakeOpenAiRealtime } from '../../fakes/openai-realtime.ts';
import { silence, speechPattern } from '../../simulator/call.ts';
import { startGateway } from '../helpers.ts';

/** Start times (ms since the call started) of the agent's utterances: media separated by > 150 ms. */
function bursts(times: { at: number; ms: number }[]): number[] {
  const out: number[] = [];
  let end = Number.NEGATIVE_INFINITY;
  for (const t of times) {
    if (t.at > end + 150) out.push(t.at);
    end = Math.max(end, t.at) + t.ms;
  }
  return out;
}

const within = (actual: number, expected: number, what: string) =>
  assert.ok(
    actual >= expected - 50 && actual <= expected + 900,
    `${what}: ${Math.round(actual)} ms, configured ${expected} ms`,
  );

describe('silence re-prompts (calls.reprompt)', () => {
  it('ElevenLabs: re-prompts after afterSeconds, maxCount times, then the goodbye after the silence timeout', async () => {
    const el = new FakeElevenLabs({ greetingMs: 400, replyMs: 500 });
    const elUrl = await el.start();
    const g = await startGateway({
      agent: { provider: 'elevenlabs', elevenlabs: { agentId: 'a', baseUrl: elUrl } },
      calls: { silenceTimeoutSeconds: 3, reprompt: { afterSeconds: 1.5, maxCount: 2 } },
    });
    try {
      const media: { at: number; ms: number }[] = [];
      let t0 = 0;
      const r = await g.call({
        audio: silence(100),
        hangupAfterMs: 20_000,
        onMessage: (m) => {
          if (m.event !== 'media') return;
          t0 ||= performance.now();
          media.push({ at: performance.now() - t0, ms: ((m.media?.payload.length ?? 0) * 3) / 4 / 8 });
        },
      });
      const endedAt = performance.now() - t0;
      const b = bursts(media);
      // Greeting (400 ms); afterSeconds of silence, re-prompt 1 (its answer plays 500 ms); afterSeconds,
      // re-prompt 2; the silence timeout (from the end of the agent's words), the goodbye. The gateway
      // checks four times a second: each step may come up to 250 ms late (plus a loaded machine's delay:
      // up to 900 ms in all).
      assert.equal(b.length, 3, `greeting + 2 re-prompts, got bursts at ${b.map(Math.round)}`);
      within((b[1] as number) - ((b[0] as number) + 400), 1500, 're-prompt 1 after the greeting');
      within((b[2] as number) - ((b[1] as number) + 500), 1500, 're-prompt 2 after re-prompt 1');
      within(endedAt - ((b[2] as number) + 500), 3000, 'goodbye after re-prompt 2');
      assert.equal(r.endedBy, 'redirect');
      assert.match(r.redirectTwiml ?? '', /<Say>Thank you for calling\. Goodbye\.<\/Say><Hangup\/>/);
      const asks = el.conversations[0]?.messages.filter((m) => m.type === 'user_message') ?? [];
      assert.equal(asks.length, 2);
      assert.match(String(asks[0]?.text), /silent for a while/);
      assert.equal(await g.metric('callfleet_reprompts_total'), 2);
      assert.equal(await g.metric('callfleet_calls_total', 'outcome="silence_timeout"'), 1);
    } finally {
      await g.close();
      await el.stop();
    }
  });

  it('OpenAI: a configured sentence as response.create instructions; the caller speaking starts the count over', async () => {
    const oa = new FakeOpenAiRealtime('sk-test', 300);
    const oaUrl = await oa.start();
    const g = await startGateway(
      {
        agent: { provider: 'openai-realtime', openaiRealtime: { baseUrl: oaUrl } },
        calls: {
          silenceTimeoutSeconds: 10,
          reprompt: { afterSeconds: 1, maxCount: 1, say: 'Are you still there?' },
        },
      },
      { secrets: { openaiApiKey: 'sk-test' } },
    );
    try {
      // Silent 1.3 s (re-prompt 1 at ~1 s), speaks, silent again: the count starts over (re-prompt 2).
      await g.call({
        audio: Buffer.concat([silence(1500), speechPattern(400, 400, 0)]),
        hangupAfterMs: 4500,
      });
      const s = oa.sessions[0];
      assert.ok(s);
      assert.equal(s.responseCreates.length, 2, 'once per silence');
      const instructions = ((s.responseCreates[0]?.response ?? {}) as { instructions?: string }).instructions;
      assert.match(
        instructions ?? '',
        /Say exactly this sentence to the caller and nothing else: "Are you still there\?"/,
      );
      assert.equal(await g.metric('callfleet_reprompts_total'), 2);
    } finally {
      await g.close();
      await oa.stop();
    }
  });
});
