import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normaliseTarget } from '../../../voice-gateway/http/path.ts';

describe('normaliseTarget', () => {
  const ok: [string, string, string][] = [
    ['/twilio/voice', '/twilio/voice', ''],
    ['/memory/audit?limit=5&action=forget', '/memory/audit', 'limit=5&action=forget'],
    ['/memory/', '/memory/', ''],
    ['/', '/', ''],
    ['/st%61tus', '/status', ''],
    ['/twilio/stream/CA123', '/twilio/stream/CA123', ''],
    ['/a/..b/c.', '/a/..b/c.', ''],
  ];
  for (const [target, path, query] of ok) {
    it(`accepts ${target}`, () => {
      const r = normaliseTarget(target);
      assert.ok(r.ok, JSON.stringify(r));
      assert.equal(r.path, path);
      assert.equal(r.query.toString(), query);
    });
  }

  const refused: [string, string][] = [
    ['/memory/../elevenlabs/x\\..\\..\\memory/export', 'backslash'],
    ['/memory/../elevenlabs/x', 'dot_segment'],
    ['/elevenlabs/x\\..\\..\\memory/export', 'backslash'],
    ['/elevenlabs/..%2fmemory/export', 'encoded_separator'],
    ['/elevenlabs/%2e%2e/memory/export', 'encoded_separator'],
    ['/elevenlabs/%5cmemory', 'encoded_separator'],
    ['/elevenlabs/%2Fmemory', 'encoded_separator'],
    ['/a/./b', 'dot_segment'],
    ['/a/..', 'dot_segment'],
    ['//memory/export', 'empty_segment'],
    ['/twilio//voice', 'empty_segment'],
    ['/twilio/voice%00', 'control_char'],
    ['/twilio/voice%0a', 'control_char'],
    ['/twilio/voice\u0001', 'control_char'],
    ['/twilio/voice?x=\u0000', 'control_char'],
    ['/bad%zz', 'bad_escape'],
    ['/bad%e0%80', 'bad_escape'],
    ['http://evil/memory/export', 'not_origin_form'],
    ['*', 'not_origin_form'],
    [`/${'a'.repeat(5000)}`, 'too_long'],
  ];
  for (const [target, reason] of refused) {
    it(`refuses ${JSON.stringify(target.slice(0, 60))} (${reason})`, () => {
      const r = normaliseTarget(target);
      assert.ok(!r.ok, JSON.stringify(r));
      assert.equal(r.reason, reason);
      assert.ok(r.message.length > 0);
    });
  }
});
