// The gateway's end of the operator link (ADR 0021): busy/idle/draining notices sent at once and signed
// with the fleet's link key; /retire is atomic with the voice webhook (a first call and a retire never
// both win).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { parseGatewayConfig } from '../../voice-gateway/config/load.ts';
import { createLogger } from '../../voice-gateway/log.ts';
import { GatewayMetrics } from '../../voice-gateway/metrics.ts';
import {
  linkKey,
  NOTICE_CONTEXT,
  type Notice,
  RETIRE_CONTEXT,
  SIGNATURE_HEADER,
  signLink,
  verifyLink,
} from '../../voice-gateway/operator-link.ts';
import { Gateway } from '../../voice-gateway/server.ts';
import { computeSignature } from '../../voice-gateway/twilio/signature.ts';
import { ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL, STREAM_KEY, until } from './helpers.ts';

const KEY = linkKey(STREAM_KEY);

describe('gateway operator link', () => {
  const notices: { notice: Notice; valid: boolean; at: number }[] = [];
  const operator = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const signature = req.headers[SIGNATURE_HEADER] as string | undefined;
      notices.push({
        notice: JSON.parse(body) as Notice,
        valid: verifyLink(KEY, NOTICE_CONTEXT, body, signature),
        at: Date.now(),
      });
      res.writeHead(204).end();
    });
  });
  let gateway: Gateway;
  let publicUrl = '';
  let internalUrl = '';

  before(async () => {
    await new Promise<void>((r) => operator.listen(0, '127.0.0.1', r));
    const address = operator.address() as { port: number };
    gateway = new Gateway({
      config: parseGatewayConfig({ publicBaseUrl: PUBLIC_BASE_URL }),
      log: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
      metrics: new GatewayMetrics({ defaultMetrics: false }),
      secrets: { twilioAuthToken: AUTH_TOKEN, twilioAccountSid: ACCOUNT_SID, streamKey: STREAM_KEY },
      podName: 'echo-gw-1',
      podNamespace: 'team-a',
      operatorNoticeUrl: `http://127.0.0.1:${address.port}/notices`,
    });
    publicUrl = `http://127.0.0.1:${await gateway.listen(0, '127.0.0.1')}`;
    internalUrl = `http://127.0.0.1:${await gateway.listenInternal(0, '127.0.0.1')}`;
  });

  after(async () => {
    await gateway.close();
    operator.close();
  });

  const webhook = async (callSid: string) => {
    const params = { CallSid: callSid, AccountSid: ACCOUNT_SID, From: '+15550001111', To: '+15550002222' };
    const res = await fetch(`${publicUrl}/twilio/voice`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': computeSignature(AUTH_TOKEN, `${PUBLIC_BASE_URL}/twilio/voice`, params),
      },
      body: new URLSearchParams(params).toString(),
    });
    return res.text();
  };
  const retire = async (body: Record<string, unknown>, key = KEY) => {
    const text = JSON.stringify(body);
    const res = await fetch(`${internalUrl}/retire`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: signLink(key, RETIRE_CONTEXT, text),
      },
      body: text,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const retireBody = () => ({ namespace: 'team-a', pod: 'echo-gw-1', ttlMs: 1000, sentAt: Date.now() });

  it('a first call sends a signed busy notice at once, before any stream starts; it names this pod', async () => {
    const t0 = Date.now();
    const twiml = await webhook('CA0001');
    assert.match(twiml, /<Connect>/);
    await until(() => notices.length >= 1, 3000, 'busy notice');
    const first = notices[0];
    assert.ok(first?.valid, 'signed with the fleet link key');
    assert.equal(first?.notice.pod, 'echo-gw-1');
    assert.equal(first?.notice.namespace, 'team-a');
    assert.equal(first?.notice.connectingCalls, 1);
    assert.ok((first?.at ?? 0) - t0 < 1000, 'within a second of the webhook');
    const status = (await (await fetch(`${internalUrl}/status`)).json()) as { connectingCalls: number };
    assert.equal(status.connectingCalls, 1);
  });

  it('a busy pod refuses to retire (409) and keeps taking calls', async () => {
    const refused = await retire(retireBody());
    assert.equal(refused.status, 409);
    assert.equal(refused.body.retired, false);
    assert.match(await webhook('CA0002'), /<Connect>/);
  });

  it('retire requests with a wrong key, another pod or a stale time are refused', async () => {
    assert.equal((await retire(retireBody(), linkKey(`${STREAM_KEY}-other-fleet`))).status, 403);
    assert.equal((await retire({ ...retireBody(), pod: 'echo-gw-2' })).status, 409);
    assert.equal((await retire({ ...retireBody(), sentAt: Date.now() - 120_000 })).status, 400);
  });

  it('an idle pod agrees to retire; from then on a webhook gets the fallback and readiness is 503; the draining edge is sent', async () => {
    const idle = new Gateway({
      config: parseGatewayConfig({ publicBaseUrl: PUBLIC_BASE_URL }),
      log: createLogger('silent'),
      metrics: new GatewayMetrics({ defaultMetrics: false }),
      secrets: { twilioAuthToken: AUTH_TOKEN, twilioAccountSid: ACCOUNT_SID, streamKey: STREAM_KEY },
      podName: 'echo-gw-1',
      podNamespace: 'team-a',
      operatorNoticeUrl: `http://127.0.0.1:${(operator.address() as { port: number }).port}/notices`,
    });
    const saved = { publicUrl, internalUrl };
    publicUrl = `http://127.0.0.1:${await idle.listen(0, '127.0.0.1')}`;
    internalUrl = `http://127.0.0.1:${await idle.listenInternal(0, '127.0.0.1')}`;
    try {
      const before = notices.length;
      const agreed = await retire(retireBody());
      assert.equal(agreed.status, 200);
      assert.equal(agreed.body.retired, true);
      assert.doesNotMatch(await webhook('CA0003'), /<Connect>/, 'a retired pod takes no call');
      assert.equal((await fetch(`${publicUrl}/health/ready`)).status, 503);
      await until(() => notices.slice(before).some((n) => n.notice.draining), 3000, 'draining notice');
      // Not removed within its ttl (1 s): it takes calls again.
      await until(() => !idle.link.presence.retired, 3000, 'retire ttl over');
      assert.match(await webhook('CA0004'), /<Connect>/);
    } finally {
      await idle.close();
      ({ publicUrl, internalUrl } = saved);
    }
  });
});
