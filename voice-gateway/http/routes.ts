// Every route of the gateway, in one table: this is where a webhook (or any request) gets routed.
// Two doors (ARCHITECTURE rule 10): the public one serves only what Twilio and ElevenLabs must reach
// (media streams are WebSocket upgrades on the same server, see call/stream-server.ts); the internal
// one serves status, metrics, the operator's retire request and the data-rights API. Health answers
// on both (kubelet probes the public port). Every handler has the one signature of ./types.ts.
import type { ElevenLabsWebhookHandlers } from '../memory/http/elevenlabs-webhooks.ts';
import { RETIRE_PATH } from '../operator-link.ts';
import type { TwilioWebhookHandlers } from '../twilio/webhooks.ts';
import { WHISPER_PATH } from '../twilio/whisper-token.ts';
import type { Handler, Route } from './types.ts';

export interface GatewayHandlers {
  /** Liveness and readiness (both doors). */
  health: Handler;
  ready: Handler;
  /** The /status document the operator's call tracker reads, and Prometheus text. */
  status: Handler;
  metrics: Handler;
  /** The operator's retire request (operator-link.ts). */
  retire: Handler;
  /** Twilio's webhooks (twilio/webhooks.ts). */
  twilio: TwilioWebhookHandlers;
  /** elevenlabs-native mode (memory/http/elevenlabs-webhooks.ts); each absent one answers 404. */
  elevenlabs: ElevenLabsWebhookHandlers | undefined;
  /** The data-rights API (memory/http/data-rights-api.ts), when caller memory is on. */
  memoryApi: Handler | undefined;
}

const route = (name: string, methods: string[], path: string, handler: Handler): Route => ({
  name,
  methods,
  path,
  handler,
});
/** A route for every path under `path` (which ends with "/"). */
const prefix = (name: string, methods: string[], path: string, handler: Handler): Route => ({
  ...route(name, methods, path, handler),
  prefix: true,
});
const GET = ['GET'];
const POST = ['POST'];

function healthRoutes(h: GatewayHandlers): Route[] {
  return [route('health', GET, '/health', h.health), route('health_ready', GET, '/health/ready', h.ready)];
}

export function publicRoutes(h: GatewayHandlers): Route[] {
  const el = h.elevenlabs;
  return [
    ...healthRoutes(h),
    route('twilio_voice', POST, '/twilio/voice', h.twilio.voice),
    route('twilio_stream_status', POST, '/twilio/stream-status', h.twilio.streamStatus),
    prefix('twilio_whisper', POST, WHISPER_PATH, h.twilio.whisper),
    route('twilio_call_status', POST, '/twilio/call-status', h.twilio.callStatus),
    route('elevenlabs_conversation_init', POST, '/elevenlabs/conversation-init', (r) =>
      el?.conversationInit?.(r),
    ),
    route('elevenlabs_search_memory', POST, '/elevenlabs/tools/search-memory', (r) => el?.searchMemory?.(r)),
    route('elevenlabs_post_call', POST, '/elevenlabs/post-call', (r) => el?.postCall?.(r)),
  ];
}

export function internalRoutes(h: GatewayHandlers): Route[] {
  return [
    ...healthRoutes(h),
    route('status', GET, '/status', h.status),
    route('metrics', GET, '/metrics', h.metrics),
    route('retire', POST, RETIRE_PATH, h.retire),
    ...(h.memoryApi ? [prefix('memory_api', ['GET', 'POST'], '/memory/', h.memoryApi)] : []),
  ];
}
