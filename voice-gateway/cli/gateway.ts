// `callfleet gateway`: config from CALLFLEET_GATEWAY_CONFIG, secrets from the environment only.
import { readFileSync } from 'node:fs';
import type { CampaignHooks } from '../campaign/gateway-hooks.ts';
import { ConfigError, loadGatewayConfig } from '../config/load.ts';
import { createLogger } from '../log.ts';
import type { ElevenLabsWebhookHandlers } from '../memory/http/elevenlabs-webhooks.ts';
import type { MemoryRuntime } from '../memory/runtime.ts';
import type { CallerMemory } from '../memory/types.ts';
import { GatewayMetrics } from '../metrics.ts';
import { Gateway } from '../server.ts';
import { streamKeyProblem } from '../twilio/stream-credential.ts';

/** Default of CALLFLEET_INTERNAL_PORT (gateway contract). */
export const DEFAULT_INTERNAL_PORT = 9090;

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
  // The internal door (rule 10): status, metrics, the data-rights API; never routed from outside.
  const internalPort = Number(env.CALLFLEET_INTERNAL_PORT ?? DEFAULT_INTERNAL_PORT);
  if (
    !Number.isInteger(internalPort) ||
    internalPort < 0 ||
    internalPort > 65535 ||
    (internalPort === port && port !== 0)
  ) {
    process.stderr.write(
      `callfleet gateway: CALLFLEET_INTERNAL_PORT: not a valid port distinct from PORT (${env.CALLFLEET_INTERNAL_PORT})\n`,
    );
    return 1;
  }
  const keyProblem = streamKeyProblem(env.CALLFLEET_STREAM_KEY);
  if (keyProblem && config.telephony === 'twilio-stream') {
    process.stderr.write(
      `callfleet gateway: CALLFLEET_STREAM_KEY: ${keyProblem}; required in twilio-stream mode (the operator mounts it from the Secret <voiceagent>-stream-key)\n`,
    );
    return 1;
  }
  const log = createLogger();
  const metrics = new GatewayMetrics();
  if (!env.TWILIO_AUTH_TOKEN) log.warn('TWILIO_AUTH_TOKEN is not set: every Twilio request will be refused');
  // Caller memory from the environment (the MemoryStore's Secrets), unless the caller injected one.
  let runtime: MemoryRuntime | undefined;
  let campaigns: CampaignHooks | undefined;
  if (!deps.memory && env.CALLFLEET_MEMORY_URL && config.memory?.enabled !== false) {
    // Loaded only when memory is on, so a gateway without memory never loads pg.
    const { parseKeyring } = await import('../memory/store/crypto.ts');
    const { MemoryRuntime: Runtime } = await import('../memory/runtime.ts');
    if (!env.CALLFLEET_ENCRYPTION_KEY) {
      process.stderr.write(
        'callfleet gateway: CALLFLEET_ENCRYPTION_KEY: required when CALLFLEET_MEMORY_URL is set\n',
      );
      return 1;
    }
    let keyring: ReturnType<typeof parseKeyring>;
    try {
      keyring = parseKeyring(env.CALLFLEET_ENCRYPTION_KEY);
    } catch (err) {
      process.stderr.write(`callfleet gateway: CALLFLEET_ENCRYPTION_KEY: ${(err as Error).message}\n`);
      return 1;
    }
    let ca: string | undefined;
    if (env.CALLFLEET_MEMORY_CA_FILE) {
      try {
        ca = readFileSync(env.CALLFLEET_MEMORY_CA_FILE, 'utf8');
        if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate in it');
      } catch (err) {
        process.stderr.write(
          `callfleet gateway: CALLFLEET_MEMORY_CA_FILE: cannot use ${env.CALLFLEET_MEMORY_CA_FILE}: ${(err as Error).message}\n`,
        );
        return 1;
      }
    }
    runtime = new Runtime({
      url: env.CALLFLEET_MEMORY_URL,
      ca,
      keyring,
      config: config.memory,
      telephony: config.telephony,
      log,
      webhookSecret: env.ELEVENLABS_WEBHOOK_SECRET,
      requestToken: env.ELEVENLABS_REQUEST_TOKEN,
      dataRightsToken: env.CALLFLEET_DATA_RIGHTS_TOKEN,
      registry: metrics.registry,
    });
    if (config.recording?.enabled) await runtime.enableRecording(config.recording);
    runtime.start();
    const { createCampaignHooks } = await import('../campaign/gateway-hooks.ts');
    campaigns = createCampaignHooks(runtime.pool, keyring);
  } else if (!deps.memory && config.memory?.enabled) {
    if (config.memory.required) {
      process.stderr.write(
        'callfleet gateway: CALLFLEET_MEMORY_URL: required when memory.required is true\n',
      );
      return 1;
    }
    log.warn('memory.enabled but CALLFLEET_MEMORY_URL is not set: calls run without caller memory');
  }
  const memory = deps.memory ?? runtime?.store;
  const gateway = new Gateway({
    config,
    log,
    secrets: {
      twilioAuthToken: env.TWILIO_AUTH_TOKEN ?? '',
      twilioAccountSid: env.TWILIO_ACCOUNT_SID,
      elevenlabsApiKey: env.ELEVENLABS_API_KEY,
      openaiApiKey: env.OPENAI_API_KEY,
      websocketToken: env.AGENT_WEBSOCKET_TOKEN,
      streamKey: env.CALLFLEET_STREAM_KEY,
    },
    memory,
    webhooks: deps.webhooks ?? runtime?.webhooks,
    memoryApi: runtime?.memoryApi,
    campaigns,
    dependenciesReady: runtime ? () => runtime.ready() : undefined,
    metrics,
    twilioApiBaseUrl: env.TWILIO_API_BASE_URL,
    podName: env.POD_NAME ?? env.HOSTNAME,
    podNamespace: env.POD_NAMESPACE,
    operatorNoticeUrl: env.CALLFLEET_OPERATOR_NOTICE_URL,
  });
  const host = env.HOST ?? '0.0.0.0';
  const bound = await gateway.listen(port, host);
  const internalBound = await gateway.listenInternal(internalPort, host);
  log.info(
    {
      port: bound,
      internalPort: internalBound,
      host,
      provider: config.agent.provider,
      capacity: gateway.capacity,
    },
    'gateway listening',
  );

  let signalAt = Date.now();
  const result = await new Promise<'drained' | 'deadline'>((resolve) => {
    const onSignal = (signal: string) => {
      if (gateway.draining) return;
      signalAt = Date.now();
      log.info({ signal }, 'signal received');
      void gateway.drain().then(resolve);
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
  });
  log.info({ result, activeCalls: gateway.activeCalls }, 'drain finished, exiting');
  // Calls that just ended queued their records: write them within what is left of the grace period
  // (at least a second, so a drain that used the whole period still tries).
  const flushMs = Math.max(1000, config.drain.gracePeriodSeconds * 1000 - (Date.now() - signalAt));
  if (runtime) await runtime.shutdown(flushMs);
  else {
    await deps.memory?.flush(flushMs);
    await deps.memory?.close();
  }
  await gateway.close();
  // Nothing should be left, but never let a stray handle hold the pod past its grace period.
  setTimeout(() => process.exit(0), 500).unref();
  return 0;
}
