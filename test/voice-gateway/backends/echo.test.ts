import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EchoBackend } from '../../../voice-gateway/backends/echo.ts';
import type { BackendSink } from '../../../voice-gateway/backends/types.ts';
import type { CallerContext } from '../../../voice-gateway/memory/types.ts';
import { classifyGreeting } from '../../simulator/greeting.ts';

function sink() {
  const audio: Buffer[] = [];
  const items: (string | undefined)[] = [];
  const transcript: string[] = [];
  const s: BackendSink = {
    audio: (payload, itemId) => {
      audio.push(Buffer.from(payload, 'base64'));
      items.push(itemId);
    },
    interrupted() {},
    transcript: (_role, text) => transcript.push(text),
    toolCall() {},
    conversationId() {},
    hangup() {},
    protocolError() {},
    audioDropped() {},
    failed() {},
  };
  return { s, audio, items, transcript };
}

const start = { callSid: 'CA1', streamSid: 'MZ1', from: '+14155550100', to: '+14155550199' };
const returning: CallerContext = { callerId: 'c1', returning: true, callCount: 1, profile: {}, memories: [] };

describe('echo backend greeting', () => {
  it('a first-time caller (or no memory) hears the 600 ms greeting tone', async () => {
    for (const context of [null, { ...returning, returning: false, callCount: 0 }]) {
      const k = sink();
      const echo = new EchoBackend(k.s, { greeting: true, pauseMs: 300 });
      await echo.start({ ...start, context });
      await new Promise((r) => setImmediate(r));
      assert.deepEqual([...new Set(k.items)], ['greeting']);
      assert.equal(Buffer.concat(k.audio).length, 4800);
      assert.equal(classifyGreeting(Buffer.concat(k.audio)), 'first-time');
      assert.deepEqual(k.transcript, ['(greeting tone)']);
      echo.close();
    }
  });

  it('a returning caller hears the welcome-back chime', async () => {
    const k = sink();
    const echo = new EchoBackend(k.s, { greeting: true, pauseMs: 300 });
    await echo.start({ ...start, context: returning });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual([...new Set(k.items)], ['greeting_returning']);
    assert.equal(Buffer.concat(k.audio).length, 4800);
    assert.equal(classifyGreeting(Buffer.concat(k.audio)), 'welcome-back');
    assert.deepEqual(k.transcript, ['(welcome back chime)']);
    echo.close();
  });

  it('no greeting when greeting is off', async () => {
    const k = sink();
    const echo = new EchoBackend(k.s, { greeting: false, pauseMs: 300 });
    await echo.start({ ...start, context: returning });
    await new Promise((r) => setImmediate(r));
    assert.equal(k.audio.length, 0);
    assert.equal(classifyGreeting(undefined), 'none');
    echo.close();
  });
});
