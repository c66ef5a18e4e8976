// The stream credential: what binds a media stream to the voice webhook that issued it (rule 9).
// Twilio signs the webhook's whole request but only the URL of the stream upgrade, with no nonce or
// timestamp, so a captured upgrade can be replayed forever. The webhook (or, for a live-call
// hand-off, the draining pod) therefore issues a short-lived token naming exactly one call; Twilio
// echoes it back in `start.customParameters`. Any pod of the fleet verifies it with the
// per-VoiceAgent key (env CALLFLEET_STREAM_KEY), and it opens at most one stream per pod.
// Wire form: base64url(JSON claims array) "." base64url(HMAC-SHA256(key, "callfleet-stream.v1." + claims)).
import { createHmac, randomBytes } from 'node:crypto';
import { safeEqual } from '../lib/safe-equal.ts';

/** The `<Parameter>` that carries the credential (name + value stay under Twilio's 500 characters). */
export const STREAM_CREDENTIAL_PARAM = 'callfleet_stream';
/** Issued credentials live this long: Twilio opens the stream within seconds of reading the TwiML. */
export const STREAM_CREDENTIAL_TTL_MS = 60_000;
/** From/To longer than this get no credential (the voice webhook answers the fallback). */
export const MAX_PARTY_LENGTH = 64;
export const MIN_STREAM_KEY_LENGTH = 32;
const MAX_TOKEN_LENGTH = 480;
const CONTEXT = 'callfleet-stream.v1.';

export interface StreamClaims {
  callSid: string;
  accountSid: string;
  /** The caller (webhook `From`), the only caller identity a stream may use. */
  from: string;
  to: string;
  /** Epoch ms after which the credential opens no stream. */
  expiresAt: number;
  /** Unique id: a credential opens at most one stream. */
  id: string;
  /** Set on a hand-off's credential: when the previous pod handed the call off (epoch ms). */
  handoffAt?: number;
  /** Set on a hand-off's credential: when the call started (epoch ms), on its first stream. */
  startedAt?: number;
}

export type CredentialRefusal = 'credential_missing' | 'credential_invalid' | 'credential_expired';

export type VerifyResult = { ok: true; claims: StreamClaims } | { ok: false; reason: CredentialRefusal };

/** Why a stream key from the environment is unusable, or undefined when it is fine. */
export function streamKeyProblem(key: string | undefined): string | undefined {
  if (!key) return 'not set';
  if (key.length < MIN_STREAM_KEY_LENGTH)
    return `too short (${key.length} characters, at least ${MIN_STREAM_KEY_LENGTH})`;
  return undefined;
}

export class StreamCredentials {
  readonly #key: Buffer;
  readonly ttlMs: number;

  constructor(key: string, ttlMs = STREAM_CREDENTIAL_TTL_MS) {
    const problem = streamKeyProblem(key);
    if (problem) throw new Error(`CALLFLEET_STREAM_KEY: ${problem}`);
    this.#key = Buffer.from(key, 'utf8');
    this.ttlMs = ttlMs;
  }

  /** A fresh credential for one call; the claims' `expiresAt`/`id` are set here. */
  issue(c: Omit<StreamClaims, 'expiresAt' | 'id'>, now = Date.now()): string {
    const claims: unknown[] = [
      1,
      c.callSid,
      c.accountSid,
      c.from,
      c.to,
      now + this.ttlMs,
      randomBytes(12).toString('base64url'),
    ];
    if (c.handoffAt !== undefined || c.startedAt !== undefined)
      claims.push(c.handoffAt ?? 0, c.startedAt ?? 0);
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${body}.${this.#mac(body)}`;
  }

  verify(token: string | undefined, now = Date.now()): VerifyResult {
    if (!token) return { ok: false, reason: 'credential_missing' };
    if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'credential_invalid' };
    const dot = token.indexOf('.');
    if (dot <= 0) return { ok: false, reason: 'credential_invalid' };
    const body = token.slice(0, dot);
    if (!safeEqual(token.slice(dot + 1), this.#mac(body))) return { ok: false, reason: 'credential_invalid' };
    const claims = decode(body);
    if (!claims) return { ok: false, reason: 'credential_invalid' };
    if (now > claims.expiresAt) return { ok: false, reason: 'credential_expired' };
    return { ok: true, claims };
  }

  #mac(body: string): string {
    return createHmac('sha256', this.#key).update(CONTEXT).update(body).digest('base64url');
  }
}

function decode(body: string): StreamClaims | undefined {
  let a: unknown;
  try {
    a = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(a) || a[0] !== 1 || (a.length !== 7 && a.length !== 9)) return undefined;
  const [, callSid, accountSid, from, to, expiresAt, id, handoffAt, startedAt] = a;
  if (
    typeof callSid !== 'string' ||
    typeof accountSid !== 'string' ||
    typeof from !== 'string' ||
    typeof to !== 'string' ||
    typeof expiresAt !== 'number' ||
    typeof id !== 'string'
  )
    return undefined;
  const claims: StreamClaims = { callSid, accountSid, from, to, expiresAt, id };
  if (a.length === 9) {
    if (typeof handoffAt !== 'number' || typeof startedAt !== 'number') return undefined;
    claims.handoffAt = handoffAt;
    claims.startedAt = startedAt;
  }
  return claims;
}

/**
 * Credential ids already used on this pod, each kept until its credential expires (after that the
 * expiry refuses it anyway). Bounded: ids expire in insertion order (one TTL for all), and past
 * `max` entries new credentials are refused rather than forgotten (fail closed).
 */
export class UsedCredentials {
  readonly #ids = new Map<string, number>();
  readonly #max: number;

  constructor(max = 65_536) {
    this.#max = max;
  }

  get size(): number {
    return this.#ids.size;
  }

  /** Marks `id` used; false when it was used before (a replay) or the set is full. */
  use(id: string, expiresAt: number, now = Date.now()): boolean {
    for (const [k, exp] of this.#ids) {
      if (exp >= now) break;
      this.#ids.delete(k);
    }
    if (this.#ids.has(id) || this.#ids.size >= this.#max) return false;
    this.#ids.set(id, expiresAt);
    return true;
  }
}
