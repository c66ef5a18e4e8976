// The operator link (ADR 0021): what a gateway and the operator say to each other outside the API
// server, one definition for both sides (like the /status document).
// - A notice (gateway → operator, the operator's notice port): "I went busy / idle / started draining".
// - A retire request (operator → gateway, the gateway's internal port): "take no more calls: you are
//   about to be removed"; the gateway agrees only when it carries no call and none is connecting.
// Both are authenticated with a per-fleet key derived from the VoiceAgent's stream key (the Secret
// `<name>-stream-key` every pod of that fleet already mounts and the operator generated): a gateway can
// speak only for pods of its own VoiceAgent. The derivation and a per-message context keep these MACs
// from ever being mistaken for stream credentials (or for each other).
// Wire form: JSON body, header X-Callfleet-Signature = base64url(HMAC-SHA256(linkKey, context + body)).
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { parseJsonBody } from './http/json-body.ts';
import { safeEqual } from './lib/safe-equal.ts';

export const SIGNATURE_HEADER = 'x-callfleet-signature';
export const NOTICE_CONTEXT = 'callfleet-notice.v1.';
export const RETIRE_CONTEXT = 'callfleet-retire.v1.';
/** Messages older (or newer) than this by the receiver's clock are refused: a captured one cannot be replayed later. */
export const MAX_MESSAGE_AGE_MS = 30_000;
/** A notice or retire body is a few hundred bytes; anything beyond this is refused unread. */
export const MAX_LINK_BODY_BYTES = 4096;
/** The path of the operator's notice endpoint. */
export const NOTICE_PATH = '/notices';
/** The path of the gateway's retire endpoint (internal port). */
export const RETIRE_PATH = '/retire';

/** The per-fleet link key: HMAC(streamKey, label), never the stream key itself. */
export function linkKey(streamKey: string): Buffer {
  return createHmac('sha256', Buffer.from(streamKey, 'utf8')).update('callfleet-operator-link.v1').digest();
}

export function signLink(key: Buffer, context: string, body: string): string {
  return createHmac('sha256', key).update(context).update(body).digest('base64url');
}

export function verifyLink(
  key: Buffer,
  context: string,
  body: string,
  signature: string | undefined,
): boolean {
  if (!signature || signature.length > 64) return false;
  return safeEqual(signature, signLink(key, context, body));
}

const podName = z.string().min(1).max(253);

export const noticeSchema = z.object({
  namespace: podName.describe('The pod namespace (env POD_NAMESPACE)'),
  pod: podName.describe('The pod name (env POD_NAME)'),
  activeCalls: z.int().min(0).describe('Live calls'),
  connectingCalls: z
    .int()
    .min(0)
    .describe('Calls answered by the voice webhook whose stream has not started'),
  draining: z.boolean().describe('Taking no calls: SIGTERM received or retired'),
  epoch: z
    .int()
    .min(0)
    .describe('When this gateway process started (epoch ms): orders notices across restarts'),
  seq: z.int().min(0).describe('Increases with every notice of this process'),
  sentAt: z.int().min(0).describe('Epoch ms'),
});
export type Notice = z.output<typeof noticeSchema>;

export const retireSchema = z.object({
  namespace: podName,
  pod: podName,
  /** The gateway takes calls again after this long unless it was terminated (the scale-down never came). */
  ttlMs: z.int().min(1000).max(600_000),
  sentAt: z.int().min(0),
});
export type RetireRequest = z.output<typeof retireSchema>;

/** Parses and checks a signed link message: the value, or why it is refused. */
export function openLink<T extends { sentAt: number }>(
  schema: z.ZodType<T>,
  body: string,
  now = Date.now(),
): { ok: true; value: T } | { ok: false; error: string } {
  if (Buffer.byteLength(body) > MAX_LINK_BODY_BYTES) return { ok: false, error: 'body too large' };
  const parsed = parseJsonBody(body, schema, 'body is not JSON');
  if (!parsed.ok) return parsed;
  if (Math.abs(now - parsed.value.sentAt) > MAX_MESSAGE_AGE_MS) return { ok: false, error: 'sentAt: stale' };
  return parsed;
}
