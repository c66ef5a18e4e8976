// elevenlabs-native mode: ElevenLabs talks to Twilio and calls these webhooks, backed by caller memory.
// Pure handlers (raw body + headers in, { status, body } out); the HTTP server wires them to
//   POST /elevenlabs/conversation-init      -> conversationInit
//   POST /elevenlabs/tools/search-memory    -> searchMemory
//   POST /elevenlabs/post-call              -> postCall  (ElevenLabs-Signature HMAC, 30 min tolerance)
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { CallerContext, CallerMemory, CallRecord, TranscriptTurn } from './types.ts';

export type Headers = Record<string, string | string[] | undefined>;

export interface WebhookResponse {
  status: number;
  body: unknown;
}

export type WebhookHandler = (
  rawBody: Buffer,
  headers: Headers,
  nowSeconds?: number,
) => Promise<WebhookResponse>;

export interface ElevenLabsWebhooks {
  conversationInit: WebhookHandler;
  searchMemory: WebhookHandler;
  postCall: WebhookHandler;
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

function header(headers: Headers, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted) return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

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

function parseJson(rawBody: Buffer): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(rawBody.toString('utf8')) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function obj(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() ? value.trim() : undefined;
}

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
  const refused = (headers: Headers): WebhookResponse | undefined => {
    if (!options.requestToken) {
      return {
        status: 503,
        body: { error: 'request token not configured (ELEVENLABS_REQUEST_TOKEN): every request is refused' },
      };
    }
    const auth = header(headers, 'authorization') ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : (header(headers, 'x-callfleet-token') ?? '');
    if (safeEqual(token, options.requestToken)) return undefined;
    return { status: 401, body: { error: 'unauthorized: missing or wrong request token' } };
  };

  return {
    async conversationInit(rawBody, headers) {
      const denied = refused(headers);
      if (denied) return denied;
      const body = parseJson(rawBody);
      if (!body) return { status: 400, body: { error: 'body: expected a JSON object' } };
      const phone = str(body.caller_id);
      let context: CallerContext | null = null;
      if (phone) context = await store.lookup(phone, budget);
      return {
        status: 200,
        body: {
          type: 'conversation_initiation_client_data',
          dynamic_variables: dynamicVariables(context, options.memoriesInPrompt),
        },
      };
    },

    async searchMemory(rawBody, headers) {
      const denied = refused(headers);
      if (denied) return denied;
      const body = parseJson(rawBody);
      if (!body) return { status: 400, body: { error: 'body: expected a JSON object' } };
      const query = str(body.query);
      if (!query) return { status: 400, body: { error: 'query: required' } };
      let callerId = str(body.callfleet_caller_id) ?? str(body.caller_ref);
      if (!callerId) {
        const phone = str(body.caller_id) ?? str(body.system__caller_id);
        if (!phone) return { status: 400, body: { error: 'callfleet_caller_id or caller_id: required' } };
        callerId = (await store.lookup(phone, 2000))?.callerId;
      }
      const limit = typeof body.limit === 'number' ? body.limit : 5;
      try {
        const results = callerId ? await store.search(callerId, query, limit) : [];
        return { status: 200, body: { results } };
      } catch {
        return { status: 503, body: { error: 'memory unavailable' } };
      }
    },

    async postCall(rawBody, headers, nowSeconds = Math.floor(Date.now() / 1000)) {
      const check = verifyElevenLabsSignature(
        rawBody,
        header(headers, 'elevenlabs-signature'),
        secret,
        nowSeconds,
      );
      if (!check.ok) return { status: 401, body: { error: check.reason } };
      const body = parseJson(rawBody);
      if (!body) return { status: 400, body: { error: 'body: expected a JSON object' } };
      if (body.type !== 'post_call_transcription')
        return { status: 200, body: { status: 'ignored', reason: 'type' } };
      const data = obj(body.data);
      const conversationId = str(data.conversation_id);
      if (!conversationId) return { status: 400, body: { error: 'data.conversation_id: required' } };
      if (seen.has(conversationId)) return { status: 200, body: { status: 'duplicate' } };
      const record = toCallRecord(data, conversationId, check.timestamp);
      if (!record) return { status: 200, body: { status: 'ignored', reason: 'no caller number' } };
      store.record(record); // idempotent per conversation id (= callSid) in the store, across pods
      seen.add(conversationId);
      if (seen.size > 10_000) seen.delete(seen.values().next().value as string);
      return { status: 200, body: { status: 'accepted' } };
    },
  };
}

function toCallRecord(
  data: Record<string, unknown>,
  conversationId: string,
  eventSeconds: number,
): CallRecord | undefined {
  const metadata = obj(data.metadata);
  const phoneCall = obj(metadata.phone_call);
  const dynamic = obj(obj(data.conversation_initiation_client_data).dynamic_variables);
  const from = str(phoneCall.external_number) ?? str(dynamic.system__caller_id);
  if (!from) return undefined;
  const startSeconds =
    typeof metadata.start_time_unix_secs === 'number' ? metadata.start_time_unix_secs : undefined;
  const duration = typeof metadata.call_duration_secs === 'number' ? metadata.call_duration_secs : 0;
  const startedAt = new Date((startSeconds ?? eventSeconds - duration) * 1000);
  const transcript: TranscriptTurn[] = (Array.isArray(data.transcript) ? data.transcript : [])
    .map(obj)
    .filter((t) => typeof t.message === 'string' && t.message.trim())
    .map((t) => ({
      role: t.role === 'agent' ? ('agent' as const) : ('caller' as const),
      text: t.message as string,
      atMs: typeof t.time_in_call_secs === 'number' ? Math.round(t.time_in_call_secs * 1000) : 0,
    }));
  const summary = str(obj(data.analysis).transcript_summary);
  return {
    callSid: conversationId,
    from,
    to: str(phoneCall.agent_number) ?? str(dynamic.system__called_number) ?? '',
    startedAt: startedAt.toISOString(),
    endedAt: new Date(startedAt.getTime() + duration * 1000).toISOString(),
    outcome: str(data.status) ?? 'done',
    transcript,
    ...(summary ? { summary } : {}),
  };
}
