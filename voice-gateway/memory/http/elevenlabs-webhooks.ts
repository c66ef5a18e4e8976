// elevenlabs-native mode: ElevenLabs talks to Twilio and calls these webhooks, backed by caller memory.
// The webhook logic takes the raw body and headers and answers an HttpResponse; the route table
// (voice-gateway/http/routes.ts) serves them at
//   POST /elevenlabs/conversation-init      -> conversationInit
//   POST /elevenlabs/tools/search-memory    -> searchMemory
//   POST /elevenlabs/post-call              -> postCall  (ElevenLabs-Signature HMAC, 30 min tolerance)
// Bodies are checked with the zod schemas below. They are lenient where ElevenLabs is: a field that is
// absent, blank or of another type reads as absent (as before), and only what an answer needs is required.
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { bearerToken, header } from '../../http/headers.ts';
import { issueMessage, parseJsonBody } from '../../http/json-body.ts';
import { json, jsonError } from '../../http/response.ts';
import type { Handler, HttpResponse, RequestHeaders } from '../../http/types.ts';
import { isRecord } from '../../lib/json-shape.ts';
import { safeEqual } from '../../lib/safe-equal.ts';
import type { CallerContext, CallerMemory, CallRecord, TranscriptTurn } from '../types.ts';

/** One ElevenLabs webhook: the raw body and headers in (the clock for post-call's signature), the answer out. */
export type ElevenLabsWebhook = (
  rawBody: Buffer,
  headers: RequestHeaders,
  nowSeconds?: number,
) => Promise<HttpResponse>;

export interface ElevenLabsWebhooks {
  conversationInit: ElevenLabsWebhook;
  searchMemory: ElevenLabsWebhook;
  postCall: ElevenLabsWebhook;
}

/** The webhooks as route handlers; the route of an absent one answers 404. */
export type ElevenLabsWebhookHandlers = Partial<Record<keyof ElevenLabsWebhooks, Handler>>;

export function elevenLabsHandlers(webhooks: ElevenLabsWebhooks): ElevenLabsWebhookHandlers {
  const route =
    (webhook: ElevenLabsWebhook): Handler =>
    (req) =>
      webhook(req.body, req.headers);
  return {
    conversationInit: route(webhooks.conversationInit),
    searchMemory: route(webhooks.searchMemory),
    postCall: route(webhooks.postCall),
  };
}

export interface ElevenLabsWebhookOptions {
  /** Time budget of the caller lookup in conversation-init (the gateway config's memory.lookupBudgetMs). */
  lookupBudgetMs: number;
  /**
   * Shared secret ElevenLabs sends on conversation-init and tool calls (configure it as a secret
   * header `Authorization: Bearer ...` in the agent). Requests without it get 401; unset, every
   * request gets 503 (fail closed: these answers carry caller memory).
   */
  requestToken?: string;
  /** How many memories go into dynamic variables (default 5). */
  memoriesInPrompt?: number;
}

export const SIGNATURE_TOLERANCE_SECONDS = 1800;

export type SignatureCheck = { ok: true; timestamp: number } | { ok: false; reason: string };

/** `ElevenLabs-Signature: t=<unix s>,v0=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. */
export function verifyElevenLabsSignature(
  rawBody: Buffer,
  signatureHeader: string | undefined,
  secret: string,
  nowSeconds: number,
  toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS,
): SignatureCheck {
  if (!signatureHeader) return { ok: false, reason: 'missing ElevenLabs-Signature header' };
  let timestamp: string | undefined;
  const signatures: string[] = [];
  for (const part of signatureHeader.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (k === 't') timestamp = v;
    else if (k === 'v0') signatures.push(v);
  }
  if (!timestamp || !/^\d+$/.test(timestamp) || signatures.length === 0) {
    return { ok: false, reason: 'malformed ElevenLabs-Signature header' };
  }
  const t = Number(timestamp);
  if (Math.abs(nowSeconds - t) > toleranceSeconds)
    return { ok: false, reason: 'signature timestamp outside tolerance' };
  const expected = createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex');
  if (!signatures.some((s) => safeEqual(s.toLowerCase(), expected)))
    return { ok: false, reason: 'signature mismatch' };
  return { ok: true, timestamp: t };
}

/** A string field, trimmed; absent, blank or not a string reads as undefined. */
const optionalText = z
  .string()
  .trim()
  .transform((s) => s || undefined)
  .optional()
  .catch(undefined);
const optionalNumber = z.number().optional().catch(undefined);
/** An object whose fields are all optional; anything that is not an object reads as an empty one. */
const lenientObject = <T extends z.core.$ZodLooseShape>(shape: T) =>
  z.preprocess((v) => (isRecord(v) ? v : {}), z.object(shape));
const NOT_AN_OBJECT = 'body: expected a JSON object';
const jsonObject = <T extends z.core.$ZodLooseShape>(shape: T) =>
  z.object(shape, { error: 'expected a JSON object' });

export const conversationInitBody = jsonObject({ caller_id: optionalText });

export const searchMemoryBody = jsonObject({
  query: z.string({ error: 'required' }).trim().min(1, { error: 'required' }),
  callfleet_caller_id: optionalText,
  caller_ref: optionalText,
  caller_id: optionalText,
  system__caller_id: optionalText,
  limit: z.number().catch(5),
}).refine((b) => b.callfleet_caller_id || b.caller_ref || b.caller_id || b.system__caller_id, {
  error: 'required',
  path: ['callfleet_caller_id or caller_id'],
});

export const postCallEnvelope = jsonObject({ type: z.unknown(), data: z.unknown() });

const transcriptTurn = lenientObject({
  role: z.unknown(),
  message: z.unknown(),
  time_in_call_secs: optionalNumber,
});

/** `data` of a post_call_transcription event: only the conversation id is required. */
export const postCallData = lenientObject({
  conversation_id: z.string({ error: 'required' }).trim().min(1, { error: 'required' }),
  status: optionalText,
  metadata: lenientObject({
    start_time_unix_secs: optionalNumber,
    call_duration_secs: z.number().catch(0),
    phone_call: lenientObject({ external_number: optionalText, agent_number: optionalText }),
  }),
  conversation_initiation_client_data: lenientObject({
    dynamic_variables: lenientObject({
      system__caller_id: optionalText,
      system__called_number: optionalText,
    }),
  }),
  transcript: z.array(transcriptTurn).catch([]),
  analysis: lenientObject({ transcript_summary: optionalText }),
});
type PostCallData = z.output<typeof postCallData>;

/** Dynamic variables for the agent prompt: strings, numbers and booleans only; never the phone number. */
export function dynamicVariables(
  context: CallerContext | null,
  memoriesInPrompt = 5,
): Record<string, string | number | boolean> {
  const vars: Record<string, string | number | boolean> = {
    callfleet_caller_id: context?.callerId ?? '',
    caller_known: context?.returning ?? false,
    call_count: context?.callCount ?? 0,
    last_call_summary: context?.lastCallSummary ?? '',
    last_call_at: context?.lastCallAt ?? '',
    caller_memories: (context?.memories ?? [])
      .slice(0, memoriesInPrompt)
      .map((m) => `- (${m.kind}) ${m.text}`)
      .join('\n'),
    memory_available: context !== null,
  };
  for (const [key, value] of Object.entries(context?.profile ?? {})) {
    const name = `caller_${key.replace(/[^A-Za-z0-9_]/g, '_')}`;
    if (!(name in vars)) vars[name] = value;
  }
  return vars;
}

export function createElevenLabsWebhooks(
  store: CallerMemory,
  secret: string,
  options: ElevenLabsWebhookOptions,
): ElevenLabsWebhooks {
  const budget = options.lookupBudgetMs;
  const seen = new Set<string>();

  /** undefined when the request carries the request token; otherwise the refusal. */
  const refused = (headers: RequestHeaders): HttpResponse | undefined => {
    if (!options.requestToken)
      return jsonError(
        503,
        'request token not configured (ELEVENLABS_REQUEST_TOKEN): every request is refused',
      );
    const token = bearerToken(headers) ?? header(headers, 'x-callfleet-token') ?? '';
    if (safeEqual(token, options.requestToken)) return undefined;
    return jsonError(401, 'unauthorized: missing or wrong request token');
  };

  return {
    async conversationInit(rawBody, headers) {
      const denied = refused(headers);
      if (denied) return denied;
      const body = parseJsonBody(rawBody, conversationInitBody, NOT_AN_OBJECT);
      if (!body.ok) return jsonError(400, body.error);
      const phone = body.value.caller_id;
      const context = phone ? await store.lookup(phone, budget) : null;
      return json(200, {
        type: 'conversation_initiation_client_data',
        dynamic_variables: dynamicVariables(context, options.memoriesInPrompt),
      });
    },

    async searchMemory(rawBody, headers) {
      const denied = refused(headers);
      if (denied) return denied;
      const body = parseJsonBody(rawBody, searchMemoryBody, NOT_AN_OBJECT);
      if (!body.ok) return jsonError(400, body.error);
      const b = body.value;
      let callerId = b.callfleet_caller_id ?? b.caller_ref;
      if (!callerId)
        callerId = (await store.lookup((b.caller_id ?? b.system__caller_id) as string, 2000))?.callerId;
      try {
        const results = callerId ? await store.search(callerId, b.query, b.limit) : [];
        return json(200, { results });
      } catch {
        return jsonError(503, 'memory unavailable');
      }
    },

    async postCall(rawBody, headers, nowSeconds = Math.floor(Date.now() / 1000)) {
      const check = verifyElevenLabsSignature(
        rawBody,
        header(headers, 'elevenlabs-signature'),
        secret,
        nowSeconds,
      );
      if (!check.ok) return jsonError(401, check.reason);
      const body = parseJsonBody(rawBody, postCallEnvelope, NOT_AN_OBJECT);
      if (!body.ok) return jsonError(400, body.error);
      if (body.value.type !== 'post_call_transcription')
        return json(200, { status: 'ignored', reason: 'type' });
      const parsed = postCallData.safeParse(body.value.data);
      if (!parsed.success) return jsonError(400, `data.${issueMessage(parsed.error)}`);
      const data = parsed.data;
      const conversationId = data.conversation_id;
      if (seen.has(conversationId)) return json(200, { status: 'duplicate' });
      const record = toCallRecord(data, check.timestamp);
      if (!record) return json(200, { status: 'ignored', reason: 'no caller number' });
      store.record(record); // idempotent per conversation id (= callSid) in the store, across pods
      seen.add(conversationId);
      if (seen.size > 10_000) seen.delete(seen.values().next().value as string);
      return json(200, { status: 'accepted' });
    },
  };
}

function toCallRecord(data: PostCallData, eventSeconds: number): CallRecord | undefined {
  const { metadata } = data;
  const phoneCall = metadata.phone_call;
  const dynamic = data.conversation_initiation_client_data.dynamic_variables;
  const from = phoneCall.external_number ?? dynamic.system__caller_id;
  if (!from) return undefined;
  const duration = metadata.call_duration_secs;
  const startedAt = new Date((metadata.start_time_unix_secs ?? eventSeconds - duration) * 1000);
  const transcript: TranscriptTurn[] = data.transcript
    .filter((t) => typeof t.message === 'string' && t.message.trim())
    .map((t) => ({
      role: t.role === 'agent' ? ('agent' as const) : ('caller' as const),
      text: t.message as string,
      atMs: t.time_in_call_secs === undefined ? 0 : Math.round(t.time_in_call_secs * 1000),
    }));
  const summary = data.analysis.transcript_summary;
  return {
    callSid: data.conversation_id,
    from,
    to: phoneCall.agent_number ?? dynamic.system__called_number ?? '',
    startedAt: startedAt.toISOString(),
    endedAt: new Date(startedAt.getTime() + duration * 1000).toISOString(),
    outcome: data.status ?? 'done',
    transcript,
    ...(summary ? { summary } : {}),
  };
}
