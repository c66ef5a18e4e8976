import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeOpenAiRealtime } from '../../fakes/openai-realtime.ts';
import { silence, speechPattern } from '../../simulator/call.ts';
import { startGateway } from '../helpers.ts';

describe('openai-realtime backend', () => {
  it('GA session with audio/pcmu, pass-through, barge-in = clear + truncate to what was heard', async () => {
    const fake = new FakeOpenAiRealtime('sk-test', 3000);
    const base = await fake.start();
    const g = await startGateway(
      {
        agent: {
          provider: 'openai-realtime',
          openaiRealtime: { model: 'gpt-realtime', instructions: 'Be brief', baseUrl: base },
        },
      },
      { secrets: { openaiApiKey: 'sk-test' } },
    );
    try {
      const r = await g.call({
        audio: Buffer.concat([
          silence(200),
          speechPattern(400, 400, 0),
          silence(1500),
          speechPattern(400, 400, 0),
        ]),
        hangupAfterMs: 3500,
      });
      const s = fake.sessions[0];
      assert.ok(s);
      assert.equal(s.model, 'gpt-realtime');
      const session = s.sessionUpdate?.session as {
        audio: { input: { format: { type: string } }; output: { format: { type: string } } };
        instructions: string;
      };
      assert.equal(session.audio.input.format.type, 'audio/pcmu');
      assert.equal(session.audio.output.format.type, 'audio/pcmu');
      assert.equal(session.instructions, 'Be brief');
      assert.ok(s.audioMs > 2000, 'caller audio reached the agent');
      assert.ok(r.clears >= 1, 'speech_started → Twilio clear');
      assert.equal(s.truncates.length, 1, 'assistant item truncated once');
      const t = s.truncates[0] as { item_id: string; audio_end_ms: number; content_index: number };
      assert.equal(t.item_id, 'item_1');
      assert.equal(t.content_index, 0);
      assert.ok(t.audio_end_ms > 500 && t.audio_end_ms < 3000, `truncated at ${t.audio_end_ms} ms`);
      assert.deepEqual(s.errors, [], 'audio_end_ms never beyond the audio sent');
    } finally {
      await g.close();
      await fake.stop();
    }
  });
});
