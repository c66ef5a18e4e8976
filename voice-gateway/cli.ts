// `callfleet gateway`: config from CALLFLEET_GATEWAY_CONFIG, secrets from the environment only.
import { ConfigError, loadGatewayConfig } from './config/load.ts';
import { createLogger } from './log.ts';
import type { CallerMemory } from './memory/types.ts';
import { type ElevenLabsWebhookHandlers, Gateway } from './server.ts';

export interface GatewayRunDeps {
  memory?: CallerMemory;
  webhooks?: ElevenLabsWebhookHandlers;
}

export async function run(_args: string[], deps: GatewayRunDeps = {}): Promise<number> {
  const env = process.env;
  let config: ReturnType<typeof loadGatewayConfig>;
  try {
    config = loadGatewayConfig(env.CALLFLEET_GATEWAY_CONFIG);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`callfleet gateway: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const port = Number(env.PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`callfleet gateway: PORT: not a valid port (${env.PORT})\n`);
    return 1;
  }
  const log = createLogger();
  if (!env.TWILIO_AUTH_TOKEN) log.warn('TWILIO_AUTH_TOKEN is not set: every Twilio request will be refused');
  const gateway = new Gateway({
    config,
    log,
    secrets: {
      twilioAuthToken: env.TWILIO_AUTH_TOKEN ?? '',
      twilioAccountSid: env.TWILIO_ACCOUNT_SID,
      elevenlabsApiKey: env.ELEVENLABS_API_KEY,
      openaiApiKey: env.OPENAI_API_KEY,
      websocketToken: env.AGENT_WEBSOCKET_TOKEN,
    },
    memory: deps.memory,
    webhooks: deps.webhooks,
    twilioApiBaseUrl: env.TWILIO_API_BASE_URL,
  });
  const host = env.HOST ?? '0.0.0.0';
  const bound = await gateway.listen(port, host);
  log.info(
    { port: bound, host, provider: config.agent.provider, capacity: gateway.capacity },
    'gateway listening',
  );

  const result = await new Promise<'drained' | 'deadline'>((resolve) => {
    const onSignal = (signal: string) => {
      if (gateway.draining) return;
      log.info({ signal }, 'signal received');
      void gateway.drain().then(resolve);
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
  });
  log.info({ result, activeCalls: gateway.sessions.size }, 'drain finished, exiting');
  await deps.memory?.flush(2000);
  await deps.memory?.close();
  await gateway.close();
  // Nothing should be left, but never let a stray handle hold the pod past its grace period.
  setTimeout(() => process.exit(0), 500).unref();
  return 0;
}
