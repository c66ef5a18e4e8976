import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  STREAM_CREDENTIAL_PARAM,
  StreamCredentials,
  streamKeyProblem,
  UsedCredentials,
} from '../../../voice-gateway/twilio/stream-credential.ts';

const KEY = 'k'.repeat(44);
const claims = { callSid: 'CA1', accountSid: 'AC1', from: '+14155550100', to: '+14155550199' };

describe('stream credentials', () => {
  it('verifies what it issued, with the claims it was given', () => {
    const c = new StreamCredentials(KEY);
    const v = c.verify(c.issue(claims));
    assert.ok(v.ok);
    assert.equal(v.claims.callSid, 'CA1');
    assert.equal(v.claims.from, '+14155550100');
    assert.equal(v.claims.handoffAt, undefined);
    assert.ok(v.claims.expiresAt > Date.now() + 59_000);
  });

  it('carries the hand-off markers as signed claims', () => {
    const c = new StreamCredentials(KEY);
    const v = c.verify(c.issue({ ...claims, handoffAt: 1000, startedAt: 500 }));
    assert.ok(v.ok);
    assert.equal(v.claims.handoffAt, 1000);
    assert.equal(v.claims.startedAt, 500);
  });

  it('fits a Twilio <Parameter> (name + value under 500) with the longest From/To the webhook accepts', () => {
    const token = new StreamCredentials(KEY).issue({
      callSid: `CA${'f'.repeat(62)}`,
      accountSid: `AC${'0'.repeat(32)}`,
      from: `sip:${'a'.repeat(60)}`,
      to: `sip:${'b'.repeat(60)}`,
      handoffAt: Date.now(),
      startedAt: Date.now(),
    });
    assert.ok(STREAM_CREDENTIAL_PARAM.length + token.length < 500, `${token.length} characters`);
  });

  it('refuses expired, altered, foreign-key, malformed and missing credentials', () => {
    const c = new StreamCredentials(KEY);
    assert.deepEqual(c.verify(c.issue(claims, Date.now() - 61_000)), {
      ok: false,
      reason: 'credential_expired',
    });
    const token = c.issue(claims);
    const [body, mac] = token.split('.') as [string, string];
    const altered = JSON.parse(Buffer.from(body, 'base64url').toString()) as unknown[];
    altered[1] = 'CA2';
    const forged = `${Buffer.from(JSON.stringify(altered)).toString('base64url')}.${mac}`;
    assert.deepEqual(c.verify(forged), { ok: false, reason: 'credential_invalid' });
    assert.deepEqual(new StreamCredentials('x'.repeat(40)).verify(token), {
      ok: false,
      reason: 'credential_invalid',
    });
    for (const bad of ['', '.', 'abc', `${body}.`, `.${mac}`, 'a'.repeat(1000)])
      assert.equal(c.verify(bad).ok, false, bad);
    assert.deepEqual(c.verify(undefined), { ok: false, reason: 'credential_missing' });
  });

  it('refuses short keys with a clear reason', () => {
    assert.equal(streamKeyProblem(undefined), 'not set');
    assert.match(streamKeyProblem('short') ?? '', /too short/);
    assert.equal(streamKeyProblem(KEY), undefined);
    assert.throws(() => new StreamCredentials('short'), /CALLFLEET_STREAM_KEY: too short/);
  });
});

describe('used credentials', () => {
  it('a credential id opens one stream; ids are forgotten once expired; full means refuse', () => {
    const used = new UsedCredentials(3);
    const now = 1_000_000;
    assert.equal(used.use('a', now + 100, now), true);
    assert.equal(used.use('a', now + 100, now), false, 'replay');
    assert.equal(used.use('b', now + 100, now), true);
    assert.equal(used.use('c', now + 100, now), true);
    assert.equal(used.use('d', now + 100, now), false, 'full: refused, never forgotten early');
    assert.equal(used.use('d', now + 300, now + 200), true, 'expired ids were pruned');
    assert.equal(used.size, 1);
  });
});
