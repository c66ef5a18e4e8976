import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeSignature, validateSignature } from '../../../voice-gateway/twilio/signature.ts';
import vectors from '../../fixtures/twilio-signature-vectors.json' with { type: 'json' };
import { validateSignatureWithBody } from './body-signature.ts';

type Case = { name: string; url: string; params: unknown; signature: string; body?: string };

describe('X-Twilio-Signature', () => {
  for (const c of vectors.cases as Case[]) {
    it(`official vector: ${c.name}`, () => {
      const params = (c.params === 'default' ? vectors.params : c.params) as Record<
        string,
        string | string[]
      >;
      const ok = c.body
        ? validateSignatureWithBody(vectors.authToken, c.signature, c.url, c.body)
        : validateSignature(vectors.authToken, c.signature, c.url, params);
      assert.equal(ok, true);
      assert.equal(validateSignature('54321', c.signature, c.url, params), false, 'wrong token must fail');
    });
  }

  it('a request to the URL without the port validates a signature made with :443', () => {
    assert.ok(
      validateSignature(vectors.authToken, 'kvajT1Ptam85bY51eRf/AJRuM3w=', vectors.url, vectors.params),
    );
  });

  it('rejects a tampered param, a missing header and a wrong URL', () => {
    const sig = computeSignature(vectors.authToken, vectors.url, vectors.params);
    assert.ok(validateSignature(vectors.authToken, sig, vectors.url, vectors.params));
    assert.equal(
      validateSignature(vectors.authToken, sig, vectors.url, { ...vectors.params, Digits: '9' }),
      false,
    );
    assert.equal(validateSignature(vectors.authToken, undefined, vectors.url, vectors.params), false);
    assert.equal(
      validateSignature(vectors.authToken, sig, 'https://evil.com/myapp.php?foo=1&bar=2', vectors.params),
      false,
    );
  });

  it('json body: a changed body fails the bodySHA256 check', () => {
    const c = (vectors.cases as Case[]).find((x) => x.body) as Case;
    assert.equal(validateSignatureWithBody(vectors.authToken, c.signature, c.url, `${c.body} `), false);
  });
});
