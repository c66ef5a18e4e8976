import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bearerToken, firstValue, header } from '../../../voice-gateway/http/headers.ts';

describe('header getters', () => {
  it('header() finds a name in any case and answers its first value', () => {
    assert.equal(header({ 'elevenlabs-signature': 'a' }, 'ElevenLabs-Signature'), 'a');
    assert.equal(header({ 'ElevenLabs-Signature': 'b' }, 'elevenlabs-signature'), 'b');
    assert.equal(header({ 'x-twilio-signature': ['c', 'd'] }, 'x-twilio-signature'), 'c');
    assert.equal(header({}, 'authorization'), undefined);
  });
  it('firstValue() of a repeated field is its first', () => {
    assert.equal(firstValue(['1', '2']), '1');
    assert.equal(firstValue('3'), '3');
    assert.equal(firstValue(undefined), undefined);
  });
  it('bearerToken() only reads "Bearer <token>"', () => {
    assert.equal(bearerToken({ authorization: 'Bearer s3cret' }), 's3cret');
    assert.equal(bearerToken({ Authorization: 'Bearer s3cret' }), 's3cret');
    assert.equal(bearerToken({ authorization: 'Basic s3cret' }), undefined);
    assert.equal(bearerToken({}), undefined);
  });
});
