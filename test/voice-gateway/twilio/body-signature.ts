// Twilio's signature of a JSON-body request (the URL carries bodySHA256 and is signed without
// params). The gateway receives no such request (its Twilio webhooks are form-encoded), so this lives
// with the tests: it checks the official JSON-body vector on top of the validateSignature production uses.
import { createHash } from 'node:crypto';
import { safeEqual } from '../../../voice-gateway/lib/safe-equal.ts';
import { validateSignature } from '../../../voice-gateway/twilio/signature.ts';

export function validateSignatureWithBody(
  authToken: string,
  signature: string | undefined,
  url: string,
  body: string | Buffer,
): boolean {
  const q = url.indexOf('?');
  const query = new URLSearchParams(q >= 0 ? url.slice(q + 1) : '');
  const expected = query.get('bodySHA256');
  if (!expected) return false;
  const actual = createHash('sha256').update(body).digest('hex');
  if (!safeEqual(actual, expected)) return false;
  return validateSignature(authToken, signature, url, {});
}
