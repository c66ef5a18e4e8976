// An in-process gateway for the adversarial suite, configured like production (parseGatewayConfig of
// a rendered-style config) with a data-rights API that records every request that reaches it.
import { parseGatewayConfig } from '../../voice-gateway/config/load.ts';
import type { GatewayConfigInput } from '../../voice-gateway/config/schema.ts';
import { createLogger } from '../../voice-gateway/log.ts';
import { GatewayMetrics } from '../../voice-gateway/metrics.ts';
import { Gateway, type GatewayOptions } from '../../voice-gateway/server.ts';
import { STREAM_KEY } from '../voice-gateway/helpers.ts';
import { type Target, targetOf } from './http-attacks.ts';

export const AUTH_TOKEN = 'adversarial-twilio-token';
export const PUBLIC_BASE_URL = 'https://voice.example.com';

/** ADVERSARIAL_SCALE=full (make test-adversarial) runs every attack at its larger size. */
export const FULL = process.env.ADVERSARIAL_SCALE === 'full';

type ApiRequest = { method: string; url: string; path?: string; headers: unknown; body: Buffer };
type ApiAnswer = { status: number; body?: unknown } | undefined;

export interface AdversarialGateway {
  gateway: Gateway;
  url: string;
  internalUrl: string;
  target: Target;
  /** Raw request targets that reached the data-rights API handler. */
  dataRightsReached: string[];
  metric(name: string, labels?: string): Promise<number>;
  close(): Promise<void>;
}

export async function startAdversarialGateway(
  o: {
    config?: Partial<GatewayConfigInput>;
    /** The data-rights API behind the recorder (default: answers 200 with what it was asked). */
    dataRights?: (req: ApiRequest) => Promise<ApiAnswer>;
    webhooks?: GatewayOptions['webhooks'];
    http?: Record<string, number>;
  } = {},
): Promise<AdversarialGateway> {
  const dataRightsReached: string[] = [];
  const inner = o.dataRights ?? (async (req: ApiRequest) => ({ status: 200, body: { exported: req.url } }));
  const options = {
    config: parseGatewayConfig({ publicBaseUrl: PUBLIC_BASE_URL, ...o.config }),
    log: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
    metrics: new GatewayMetrics({ defaultMetrics: false }),
    secrets: { twilioAuthToken: AUTH_TOKEN, streamKey: STREAM_KEY },
    memoryApi: async (req: ApiRequest) => {
      dataRightsReached.push(req.url);
      return inner(req);
    },
    webhooks: o.webhooks,
    http: o.http,
  } as unknown as GatewayOptions;
  const gateway = new Gateway(options);
  const port = await gateway.listen(0, '127.0.0.1');
  const internalPort = await gateway.listenInternal(0, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  return {
    gateway,
    url,
    internalUrl: `http://127.0.0.1:${internalPort}`,
    target: targetOf(url, { publicBaseUrl: PUBLIC_BASE_URL, authToken: AUTH_TOKEN }),
    dataRightsReached,
    async metric(name, labels) {
      const text = await gateway.metrics.registry.metrics();
      const key = labels ? `${name}{${labels}}` : name;
      let sum = 0;
      for (const line of text.split('\n'))
        if (line.startsWith(`${key} `) || (!labels && line.startsWith(`${name}{`)))
          sum += Number(line.slice(line.lastIndexOf(' ') + 1));
      return sum;
    },
    close: () => gateway.close(),
  };
}
