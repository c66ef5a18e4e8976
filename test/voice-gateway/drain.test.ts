// Real process: SIGTERM with 20 live calls. Readiness 503 at once, no call cut, exit 0 after the last.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FakeTwilioRest } from '../fakes/twilio-rest.ts';
import { placeCall, speechPattern } from '../simulator/call.ts';
import { ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL, STREAM_KEY, sleep } from './helpers.ts';

const root = new URL('../../', import.meta.url).pathname;

export function spawnGateway(config: unknown, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'callfleet-gw-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config));
  const child = spawn(process.execPath, [join(root, 'bin/callfleet.ts'), 'gateway'], {
    env: {
      ...process.env,
      CALLFLEET_GATEWAY_CONFIG: file,
      PORT: '0',
      CALLFLEET_INTERNAL_PORT: '0',
      HOST: '127.0.0.1',
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      CALLFLEET_STREAM_KEY: STREAM_KEY,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const listening = (key: string) => async () => {
    for (let i = 0; i < 300; i++) {
      const m = new RegExp(`"${key}":(\\d+)`).exec(stdout);
      if (m) return Number(m[1]);
      await sleep(20);
    }
    throw new Error(`gateway did not start: ${stderr}`);
  };
  const port = listening('port');
  /** The internal door (status, metrics). */
  const internalPort = listening('internalPort');
  return { child, exited, port, internalPort, out: () => stdout, err: () => stderr };
}

describe('drain (real process)', () => {
  it('SIGTERM with 20 live calls: ready 503 at once, none cut, exit 0 after the last', async () => {
    const rest = new FakeTwilioRest(ACCOUNT_SID, AUTH_TOKEN);
    const restUrl = await rest.start();
    const gw = spawnGateway(
      {
        publicBaseUrl: PUBLIC_BASE_URL,
        calls: { maxConcurrentPerPod: 50 },
        drain: { gracePeriodSeconds: 30 },
      },
      { TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_API_BASE_URL: restUrl },
    );
    try {
      const port = await gw.port();
      const url = `http://127.0.0.1:${port}`;
      const internal = `http://127.0.0.1:${await gw.internalPort()}`;
      const calls = Array.from({ length: 20 }, (_, i) =>
        placeCall({
          gatewayUrl: url,
          publicBaseUrl: PUBLIC_BASE_URL,
          authToken: AUTH_TOKEN,
          audio: speechPattern(2000),
          hangupAfterMs: 2500 + i * 50,
        }),
      );
      for (let i = 0; i < 200; i++) {
        const s = (await (await fetch(`${internal}/status`)).json()) as { activeCalls: number };
        if (s.activeCalls === 20) break;
        await sleep(20);
      }
      gw.child.kill('SIGTERM');
      const t0 = Date.now();
      let ready = 0;
      for (let i = 0; i < 50 && ready !== 503; i++) {
        ready = (await fetch(`${url}/health/ready`)).status;
        if (ready !== 503) await sleep(5);
      }
      assert.equal(ready, 503);
      assert.ok(Date.now() - t0 < 500, 'readiness fails at once');
      const status = (await (await fetch(`${internal}/status`)).json()) as {
        draining: boolean;
        activeCalls: number;
      };
      assert.equal(status.draining, true);
      assert.equal(status.activeCalls, 20);
      const late = await placeCall({
        gatewayUrl: url,
        publicBaseUrl: PUBLIC_BASE_URL,
        authToken: AUTH_TOKEN,
      });
      assert.equal(late.kind, 'fallback', 'new webhooks get the fallback while draining');
      const results = await Promise.all(calls);
      const lastEnd = Date.now();
      for (const r of results) {
        assert.equal(r.endedBy, 'caller', 'the caller hung up; the gateway cut nobody');
        assert.ok(r.mediaReceived > 0);
      }
      const code = await gw.exited;
      assert.equal(code, 0);
      assert.ok(Date.now() - lastEnd < 2000, 'exited soon after the last call');
      assert.equal(rest.updates.length, 0);
    } finally {
      gw.child.kill('SIGKILL');
      await rest.stop();
    }
  });

  it('grace deadline: calls still up hear a goodbye, then the process exits 0', async () => {
    const rest = new FakeTwilioRest(ACCOUNT_SID, AUTH_TOKEN);
    const restUrl = await rest.start();
    const gw = spawnGateway(
      { publicBaseUrl: PUBLIC_BASE_URL, drain: { gracePeriodSeconds: 2, goodbyeLeadSeconds: 1 } },
      { TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_API_BASE_URL: restUrl },
    );
    try {
      const url = `http://127.0.0.1:${await gw.port()}`;
      const call = placeCall({
        gatewayUrl: url,
        publicBaseUrl: PUBLIC_BASE_URL,
        authToken: AUTH_TOKEN,
        audio: speechPattern(1000),
        hangupAfterMs: 20000,
      });
      await sleep(500);
      gw.child.kill('SIGTERM');
      const r = await call;
      assert.equal(r.endedBy, 'redirect');
      assert.match(r.redirectTwiml ?? '', /<Say>Thank you for calling/);
      assert.equal(await gw.exited, 0);
    } finally {
      gw.child.kill('SIGKILL');
      await rest.stop();
    }
  });
});

describe('config (real process)', () => {
  for (const [config, field] of [
    [
      { publicBaseUrl: 'https://x.example.com', calls: { maxConcurrentPerPod: 0 } },
      'calls.maxConcurrentPerPod',
    ],
    [{ publicBaseUrl: 'https://x.example.com', agent: { provider: 'websocket' } }, 'agent.websocket'],
    [{}, 'publicBaseUrl'],
    [{ publicBaseUrl: 'https://x.example.com', bogus: 1 }, 'bogus'],
  ] as const) {
    it(`invalid config exits 1 naming ${field}`, async () => {
      const gw = spawnGateway(config);
      assert.equal(await gw.exited, 1);
      assert.match(gw.err(), new RegExp(field.replace('.', '\\.')));
    });
  }
});
