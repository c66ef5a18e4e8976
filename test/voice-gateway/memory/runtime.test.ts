// MemoryRuntime without a database: config defaults, readiness when memory is (not) required, the
// routes it mounts per telephony mode, and the gateway CLI refusing memory without an encryption key.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseGatewayConfig } from '../../../voice-gateway/config/load.ts';
import { createLogger } from '../../../voice-gateway/log.ts';
import { MemoryRuntime } from '../../../voice-gateway/memory/runtime.ts';
import { parseKeyring } from '../../../voice-gateway/memory/store/crypto.ts';
import { GatewayMetrics } from '../../../voice-gateway/metrics.ts';
import { Gateway } from '../../../voice-gateway/server.ts';
import { freePort } from '../../support/ports.ts';
import { AUTH_TOKEN, PUBLIC_BASE_URL, STREAM_KEY } from '../helpers.ts';
import { KEY_SPEC } from './harness.ts';

const log = createLogger('silent');
const runtimes: MemoryRuntime[] = [];
const gateways: Gateway[] = [];
after(async () => {
  for (const r of runtimes) await r.shutdown(0);
  for (const g of gateways) await g.close();
});

async function downDatabaseUrl(): Promise<string> {
  return `postgres://postgres@127.0.0.1:${await freePort()}/postgres`; // nothing listens there
}

async function gatewayWith(memory: Record<string, unknown>, telephony = 'twilio-stream') {
  const config = parseGatewayConfig({ publicBaseUrl: PUBLIC_BASE_URL, telephony, memory });
  const runtime = new MemoryRuntime({
    url: await downDatabaseUrl(),
    keyring: parseKeyring(KEY_SPEC),
    config: config.memory,
    telephony: config.telephony,
    log,
  });
  runtimes.push(runtime);
  runtime.start();
  const gateway = new Gateway({
    config,
    log,
    metrics: new GatewayMetrics({ defaultMetrics: false }),
    secrets: { twilioAuthToken: AUTH_TOKEN, streamKey: STREAM_KEY },
    memory: runtime.store,
    webhooks: runtime.webhooks,
    memoryApi: runtime.memoryApi,
    dependenciesReady: () => runtime.ready(),
  });
  gateways.push(gateway);
  const url = `http://127.0.0.1:${await gateway.listen(0, '127.0.0.1')}`;
  const internalUrl = `http://127.0.0.1:${await gateway.listenInternal(0, '127.0.0.1')}`;
  return { runtime, url, internalUrl };
}

describe('memory config', () => {
  test('{publicBaseUrl} alone is valid and every memory default is explicit in the parsed config', () => {
    const config = parseGatewayConfig({ publicBaseUrl: PUBLIC_BASE_URL });
    assert.deepEqual(config.memory, {
      lookupBudgetMs: 150,
      required: false,
      recordTranscripts: true,
      extractMemories: true,
      poolSize: 10,
      healthCheckSeconds: 5,
      retention: { transcriptsDays: 30, memoriesDays: 365, sweepIntervalSeconds: 3600 },
    });
  });

  test('bad and misspelled fields are named', () => {
    assert.throws(
      () =>
        parseGatewayConfig({ publicBaseUrl: PUBLIC_BASE_URL, memory: { retention: { memoriesDays: -1 } } }),
      /memory\.retention\.memoriesDays/,
    );
    // The old spelling is refused, not silently dropped.
    assert.throws(
      () => parseGatewayConfig({ publicBaseUrl: PUBLIC_BASE_URL, memory: { retention: { memoryDays: 7 } } }),
      /memoryDays/,
    );
  });
});

describe('MemoryRuntime with the database down', () => {
  test('not required (default): ready, memory_up 0, lookups miss instead of failing', async () => {
    const { runtime, url } = await gatewayWith({ enabled: true });
    assert.equal(runtime.up, false);
    assert.equal((await fetch(`${url}/health/ready`)).status, 200);
    assert.equal(await runtime.store.lookup('+14155550100', 200), null);
  });

  test('required: readiness 503 while the database is unreachable', async () => {
    const { url } = await gatewayWith({ enabled: true, required: true });
    const res = await fetch(`${url}/health/ready`);
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { status: 'dependency_down' });
  });

  test('twilio-stream mounts no ElevenLabs webhooks; the data-rights API is off without a token', async () => {
    const { runtime, url, internalUrl } = await gatewayWith({ enabled: true });
    assert.equal(runtime.webhooks, undefined);
    const init = await fetch(`${url}/elevenlabs/conversation-init`, { method: 'POST', body: '{}' });
    assert.equal(init.status, 404);
    const api = await fetch(`${internalUrl}/memory/audit`);
    assert.equal(api.status, 404);
    assert.deepEqual(await api.json(), { error: 'data-rights API disabled' });
  });

  test('elevenlabs-native without ELEVENLABS_WEBHOOK_SECRET refuses every post-call', async () => {
    const { url } = await gatewayWith({ enabled: true }, 'elevenlabs-native');
    const now = Math.floor(Date.now() / 1000);
    const res = await fetch(`${url}/elevenlabs/post-call`, {
      method: 'POST',
      headers: { 'ElevenLabs-Signature': `t=${now},v0=00` },
      body: '{"type":"post_call_transcription","data":{"conversation_id":"c1"}}',
    });
    assert.equal(res.status, 401);
  });

  test('elevenlabs-native without ELEVENLABS_REQUEST_TOKEN refuses conversation-init and search-memory (fail closed)', async () => {
    const { url } = await gatewayWith({ enabled: true }, 'elevenlabs-native');
    for (const path of ['/elevenlabs/conversation-init', '/elevenlabs/tools/search-memory']) {
      const res = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { authorization: 'Bearer guess' },
        body: '{"caller_id":"+14155550100","query":"x"}',
      });
      assert.equal(res.status, 503, path);
      assert.match(await res.text(), /ELEVENLABS_REQUEST_TOKEN/);
    }
  });
});

describe('callfleet gateway with CALLFLEET_MEMORY_URL', () => {
  test('exits 1 without CALLFLEET_ENCRYPTION_KEY (phone numbers are never stored in clear)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'callfleet-rt-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ publicBaseUrl: PUBLIC_BASE_URL }));
    const root = new URL('../../../', import.meta.url).pathname;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      CALLFLEET_GATEWAY_CONFIG: file,
      PORT: '0',
      HOST: '127.0.0.1',
      CALLFLEET_MEMORY_URL: await downDatabaseUrl(),
      CALLFLEET_STREAM_KEY: STREAM_KEY,
    };
    delete env.CALLFLEET_ENCRYPTION_KEY;
    const r = spawnSync(process.execPath, [join(root, 'bin/callfleet.ts'), 'gateway'], {
      env,
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /CALLFLEET_ENCRYPTION_KEY: required when CALLFLEET_MEMORY_URL is set/);
  });
});
