// The warm-transfer whisper (calls.transfer, ADR 0019): the summary a human hears on answering travels
// sealed in the `url` of the `<Dial>` noun, so whichever pod Twilio's whisper request reaches can answer
// it without shared state, and no conversation text shows up in access logs. AES-256-GCM under a key
// derived from the per-VoiceAgent stream key; the sealed payload carries its own expiry.
// Wire form: base64url(iv ‖ tag ‖ ciphertext of JSON [expiresAtMs, summary]).
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

export const WHISPER_PATH = '/twilio/whisper/';
/** A transfer's whisper is fetched when the human answers: within the dial timeout, plus margin. */
export const WHISPER_TTL_MS = 15 * 60_000;
export const MAX_SUMMARY_CHARS = 600;
const MAX_TOKEN_CHARS = 4 * MAX_SUMMARY_CHARS + 200;

export class WhisperTokens {
  readonly #key: Buffer;

  constructor(streamKey: string) {
    this.#key = createHmac('sha256', streamKey).update('callfleet-whisper.v1').digest();
  }

  seal(summary: string, now = Date.now()): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.#key, iv);
    const body = Buffer.concat([
      c.update(JSON.stringify([now + WHISPER_TTL_MS, summary.slice(0, MAX_SUMMARY_CHARS)])),
      c.final(),
    ]);
    return Buffer.concat([iv, c.getAuthTag(), body]).toString('base64url');
  }

  /** The summary, or undefined when the token is forged, damaged or expired. */
  open(token: string, now = Date.now()): string | undefined {
    if (token.length > MAX_TOKEN_CHARS || !/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
    const raw = Buffer.from(token, 'base64url');
    if (raw.length < 29) return undefined;
    try {
      const d = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, 12));
      d.setAuthTag(raw.subarray(12, 28));
      const text = Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
      const [expiresAt, summary] = JSON.parse(text) as [number, string];
      if (typeof expiresAt !== 'number' || now > expiresAt || typeof summary !== 'string') return undefined;
      return summary;
    } catch {
      return undefined;
    }
  }
}
