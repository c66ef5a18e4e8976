// `callfleet gateway` refuses to start in twilio-stream mode without a usable stream key (ADR 0011).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseGatewayConfig } from '../../voice-gateway/config/load.ts';
import { createLogger } from '../../voice-gateway/log.ts';
import { Gateway } from '../../voice-gateway/server.ts';
import { AUTH_TOKEN, PUBLIC_BASE_URL } from './helpers.ts';

const root = new URL('../../', import.meta.url).pathname;

function gateway(env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'callfleet-cli-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ publicBaseUrl: PUBLIC_BASE_URL }));
  return spawnSync(process.execPath, [join(root, 'bin/callfleet.ts'), 'gateway'], {
    env: {
      PATH: process.env.PATH,
      CALLFLEET_GATEWAY_CONFIG: file,
      PORT: '0',
      HOST: '127.0.0.1',
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      ...env,
    },
    encoding: 'utf8',
    timeout: 20_000,
  });
}

describe('callfleet gateway: the stream key', () => {
  it('exits 1 without CALLFLEET_STREAM_KEY in twilio-stream mode, naming the variable and the Secret', () => {
    const r = gateway({});
    assert.equal(r.status, 1);
    assert.match(r.stderr, /CALLFLEET_STREAM_KEY: not set; required in twilio-stream mode .*-stream-key/);
  });

  it('exits 1 with a key too short to be a generated one', () => {
    const r = gateway({ CALLFLEET_STREAM_KEY: 'short' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /CALLFLEET_STREAM_KEY: too short/);
  });

  it('the Gateway itself refuses twilio-stream mode without a key', () => {
    assert.throws(
      () =>
        new Gateway({
          config: parseGatewayConfig({ publicBaseUrl: PUBLIC_BASE_URL }),
          log: createLogger('silent'),
          secrets: { twilioAuthToken: AUTH_TOKEN },
        }),
      /CALLFLEET_STREAM_KEY: not set/,
    );
  });
});
