import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FramePolicy, jsonDepthExceeds } from '../../../voice-gateway/call/frame-policy.ts';

const limits = {
  startFrameBytes: 4096,
  mediaFrameBytes: 2048,
  inboundBytesPerSecond: 32768,
  parseBudgetMs: 10,
};
const media = (sid: string) =>
  Buffer.from(
    `{"event":"media","sequenceNumber":"2","media":{"track":"inbound","chunk":"1","timestamp":"20","payload":"${'/'.repeat(216)}"},"streamSid":"${sid}"}`,
  );

describe('frame policy', () => {
  it('takes Twilio frames: start (up to 4 KiB) before start, media after', () => {
    const p = new FramePolicy(limits);
    const start = Buffer.from(
      JSON.stringify({
        event: 'start',
        start: { streamSid: 'MZ1', callSid: 'CA1', customParameters: { callfleet_stream: 'x'.repeat(3000) } },
      }),
    );
    const s = p.admit(start, false, 1, false);
    assert.equal(typeof s === 'object' && s.event, 'start');
    const m = p.admit(media('MZ1'), false, 2, true);
    assert.equal(typeof m === 'object' && m.event, 'media');
  });

  it('caps size by kind: a start-sized frame after start is oversize', () => {
    const p = new FramePolicy(limits);
    const big = Buffer.from(`{"event":"mark","streamSid":"MZ1","mark":{"name":"${'1'.repeat(3000)}"}}`);
    assert.equal(typeof p.admit(big, false, 1, false), 'object');
    assert.equal(p.admit(big, false, 2, true), 'oversize');
    assert.equal(p.admit(Buffer.from('x'.repeat(5000)), false, 3, false), 'oversize');
    assert.equal(p.admit(Buffer.from([1, 2]), true, 4, true), 'binary');
  });

  it('bounds bytes per second (two seconds of burst), then refills', () => {
    const p = new FramePolicy(limits);
    const frame = Buffer.from(`{"event":"mark","streamSid":"MZ1","mark":{"name":"${'1'.repeat(1900)}"}}`);
    let admitted = 0;
    for (let i = 0; i < 100; i++) if (typeof p.admit(frame, false, 10, true) === 'object') admitted++;
    assert.ok(admitted >= 30 && admitted <= 36, `${admitted} frames of ~2 KB in one burst`);
    assert.equal(p.admit(frame, false, 10, true), 'over_budget');
    assert.equal(typeof p.admit(frame, false, 200, true), 'object', 'refilled after 190 ms');
  });

  it('refuses nesting past 8 levels before parsing', () => {
    const p = new FramePolicy(limits);
    assert.equal(
      p.admit(Buffer.from(`{"event":"x","a":${'['.repeat(500)}${']'.repeat(500)}}`), false, 1, true),
      'too_deep',
    );
    assert.equal(
      jsonDepthExceeds(Buffer.from('{"a":"[[[[[[[[[[[[["}'), 8),
      false,
      'brackets in strings do not count',
    );
    assert.equal(
      jsonDepthExceeds(Buffer.from('{"a":"\\"[[[[[[[[[[[["}'), 8),
      false,
      'escaped quotes stay in the string',
    );
    assert.equal(jsonDepthExceeds(Buffer.from('[[[[[[[[[]]]]]]]]]'), 8), true);
  });

  it('counts frames per second past 400 as a flood', () => {
    const p = new FramePolicy({ ...limits, inboundBytesPerSecond: 16 * 1024 * 1024 });
    const m = media('MZ1');
    let flood = 0;
    for (let i = 0; i < 500; i++) if (p.admit(m, false, 5, true) === 'flood') flood++;
    assert.equal(flood, 100);
  });
});
