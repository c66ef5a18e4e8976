// Starts an in-process gateway (with a fake Twilio REST) for tests; everything on 127.0.0.1.

import type { CampaignHooks } from '../../voice-gateway/campaign/gateway-hooks.ts';
import { parseGatewayConfig } from '../../voice-gateway/config/load.ts';
import type { GatewayConfigInput } from '../../voice-gateway/config/schema.ts';
import { createLogger } from '../../voice-gateway/log.ts';
import type { ElevenLabsWebhookHandlers } from '../../voice-gateway/memory/http/elevenlabs-webhooks.ts';
import type { CallerMemory } from '../../voice-gateway/memory/types.ts';
import { GatewayMetrics } from '../../voice-gateway/metrics.ts';
import { Gateway, type GatewaySecrets } from '../../voice-gateway/server.ts';
import { FakeTwilioRest } from '../fakes/twilio-rest.ts';
import {
  type CallOptions,
  type CallResult,
  placeCall,
  type SimulatedCall,
  startCall,
} from '../simulator/call.ts';

export const AUTH_TOKEN = '12345';
export const ACCOUNT_SID = 'AC00000000000000000000000000000000';
export const PUBLIC_BASE_URL = 'https://voice.example.com';
/** CALLFLEET_STREAM_KEY of test gateways (the operator generates one per VoiceAgent). */
export const STREAM_KEY = 'test-stream-key-0123456789abcdefghijklmnopqrstuv';

export interface TestGateway {
  gateway: Gateway;
  /** The public door (webhooks, streams). */
  url: string;
  /** The internal door (status, metrics, data-rights API). */
  internalUrl: string;
  rest: FakeTwilioRest;
  call(o?: Partial<CallOptions>): Promise<CallResult>;
  start(o?: Partial<CallOptions>): Promise<SimulatedCall>;
  metric(name: string, labels?: string): Promise<number>;
  close(): Promise<void>;
}

export async function startGateway(
  config: Partial<GatewayConfigInput> = {},
  extra: {
    secrets?: Partial<GatewaySecrets>;
    memory?: CallerMemory;
    webhooks?: ElevenLabsWebhookHandlers;
    campaigns?: CampaignHooks;
  } = {},
): Promise<TestGateway> {
  const rest = new FakeTwilioRest(ACCOUNT_SID, AUTH_TOKEN);
  const restUrl = await rest.start();
  const parsed = parseGatewayConfig({ publicBaseUrl: PUBLIC_BASE_URL, ...config });
  const gateway = new Gateway({
    config: parsed,
    log: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
    metrics: new GatewayMetrics({ defaultMetrics: false }),
    secrets: {
      twilioAuthToken: AUTH_TOKEN,
      twilioAccountSid: ACCOUNT_SID,
      streamKey: STREAM_KEY,
      ...extra.secrets,
    },
    memory: extra.memory,
    webhooks: extra.webhooks,
    campaigns: extra.campaigns,
    twilioApiBaseUrl: restUrl,
  });
  const port = await gateway.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  const internalUrl = `http://127.0.0.1:${await gateway.listenInternal(0, '127.0.0.1')}`;
  const base = { gatewayUrl: url, publicBaseUrl: PUBLIC_BASE_URL, authToken: AUTH_TOKEN };
  return {
    gateway,
    url,
    internalUrl,
    rest,
    call: (o = {}) => placeCall({ ...base, ...o }),
    start: (o = {}) => startCall({ ...base, ...o }),
    async metric(name, labels) {
      const text = await gateway.metrics.registry.metrics();
      const key = labels ? `${name}{${labels}}` : name;
      for (const line of text.split('\n')) {
        if (line.startsWith(`${key} `)) return Number(line.slice(key.length + 1));
      }
      return 0;
    },
    async close() {
      await gateway.close();
      await rest.stop();
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function until(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
