import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CallerMemory, CallRecord } from '../../../voice-gateway/memory/types.ts';
import { FakeElevenLabs } from '../../fakes/elevenlabs.ts';
import { type OutboundMessage, silence, speechPattern } from '../../simulator/call.ts';
import { startGateway, until } from '../helpers.ts';

function fakeMemory(records: CallRecord[]): CallerMemory {
  return {
    lookup: async () => ({
      callerId: 'caller_1',
      returning: true,
      callCount: 3,
      profile: { name: 'Ada' },
      memories: [{ kind: 'fact', text: 'prefers mornings', createdAt: '2025-01-01T00:00:00Z' }],
    }),
    search: async (_id, query) => [
      { kind: 'fact', text: `found ${query}`, createdAt: '2025-01-01T00:00:00Z' },
    ],
    record: (c) => records.push(c),
    flush: async () => {},
    close: async () => {},
  };
}

describe('elevenlabs backend', () => {
  it('signed URL, pong, ulaw pass-through, interruption drops stale audio, memory in and out', async () => {
    const el = new FakeElevenLabs({ apiKey: 'xi-key', greetingMs: 1000, replyMs: 600 });
    const elUrl = await el.start();
    const records: CallRecord[] = [];
    const g = await startGateway(
      {
        agent: { provider: 'elevenlabs', elevenlabs: { agentId: 'agent_7', baseUrl: elUrl } },
        memory: { enabled: true, lookupBudgetMs: 200 },
      },
      { secrets: { elevenlabsApiKey: 'xi-key' }, memory: fakeMemory(records) },
    );
    try {
      const payloads: string[] = [];
      const call = await g.start({
        audio: Buffer.concat([
          silence(200),
          speechPattern(500, 500, 0),
          silence(1500),
          speechPattern(400, 400, 0),
        ]),
        hangupAfterMs: 3500,
        onMessage: (m: OutboundMessage) => m.event === 'media' && payloads.push(m.media?.payload ?? ''),
      });
      await until(() => el.conversations.length === 1, 3000);
      const conv = el.conversations[0];
      assert.ok(conv);
      conv.ws.send(
        JSON.stringify({ type: 'audio', audio_event: { audio_base_64: '/////w==', event_id: 999 } }),
      );
      el.toolCall(conv, 'birthday');
      const r = await call.done;
      assert.equal(el.signedUrlRequests, 1);
      assert.deepEqual(conv.pongs, [12345], 'ping answered with its event_id');
      const vars = conv.init?.dynamic_variables as Record<string, unknown>;
      assert.equal(vars.caller_name, 'Ada');
      assert.equal(vars.call_count, 3);
      assert.ok(payloads.includes('/////w=='), 'ulaw_8000 agent audio passes through untouched');
      assert.ok(conv.audioMs > 2000, 'caller audio reached the agent');
      assert.ok(r.clears >= 1, 'interruption → Twilio clear');
      assert.ok(
        (await g.metric('callfleet_frames_dropped_total', 'reason="interrupted"')) >= 1,
        'stale event_id dropped',
      );
      await until(() => conv.toolResults.length === 1, 2000, 'tool result');
      assert.match(String(conv.toolResults[0]?.result), /found birthday/);
      assert.equal(records.length, 1);
      assert.equal(records[0]?.from, '+14155550100');
      assert.ok(records[0]?.transcript.some((t) => t.role === 'agent'));
      assert.ok(records[0]?.transcript.some((t) => t.role === 'caller'));
    } finally {
      await g.close();
      await el.stop();
    }
  });

  it('transcodes when the agent uses PCM 16 kHz', async () => {
    const el = new FakeElevenLabs({
      replyMs: 1000,
      outputFormat: 'pcm_16000',
      inputFormat: 'pcm_16000',
      greetingMs: 400,
    });
    const elUrl = await el.start();
    const g = await startGateway({
      agent: { provider: 'elevenlabs', elevenlabs: { agentId: 'a', baseUrl: elUrl } },
    });
    try {
      const r = await g.call({
        audio: Buffer.concat([silence(300), speechPattern(400, 400, 0)]),
        hangupAfterMs: 2000,
        record: true,
      });
      assert.ok(Math.abs(r.agentAudioMs - 1400) < 50, `agent audio as 8 kHz mu-law: ${r.agentAudioMs} ms`);
      assert.ok(Math.abs((r.agentAudio?.length ?? 0) - r.agentAudioMs * 8) < 64);
      assert.ok((el.conversations[0]?.audioMs ?? 0) > 1000);
    } finally {
      await g.close();
      await el.stop();
    }
  });
});
