import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MAX_SUMMARY_CHARS,
  WHISPER_TTL_MS,
  WhisperTokens,
} from '../../../voice-gateway/twilio/whisper-token.ts';
import { STREAM_KEY } from '../helpers.ts';

describe('whisper tokens (warm transfer summaries)', () => {
  const tokens = new WhisperTokens(STREAM_KEY);

  it('seals the summary so that it is not readable in the URL, and opens on any pod with the same key', () => {
    const t = tokens.seal('Wants a quote for 20 seats.');
    assert.match(t, /^[A-Za-z0-9_-]+$/);
    assert.doesNotMatch(Buffer.from(t, 'base64url').toString('latin1'), /quote/);
    assert.equal(new WhisperTokens(STREAM_KEY).open(t), 'Wants a quote for 20 seats.');
  });

  it('refuses another key, a damaged token and an expired one', () => {
    const now = Date.now();
    const t = tokens.seal('summary', now);
    assert.equal(new WhisperTokens(`${STREAM_KEY}x`).open(t), undefined);
    const flipped = `${t.slice(0, 20)}${t[20] === 'A' ? 'B' : 'A'}${t.slice(21)}`;
    assert.equal(tokens.open(flipped), undefined);
    assert.equal(tokens.open('not a token!'), undefined);
    assert.equal(tokens.open(t, now + WHISPER_TTL_MS + 1), undefined);
    assert.equal(tokens.open(t, now + WHISPER_TTL_MS - 1), 'summary');
  });

  it('bounds the summary', () => {
    const t = tokens.seal('x'.repeat(5000));
    assert.equal(tokens.open(t)?.length, MAX_SUMMARY_CHARS);
  });
});
