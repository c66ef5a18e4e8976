// Issue 15, hole 3: in elevenlabs-native mode conversation-init and search-memory answered anyone
// (no request token was ever rendered) and every post-call webhook was refused (its HMAC secret was
// never rendered). Here the gateway runs as `callfleet gateway` with the environment and config the
// rendered Deployment gives it (Secrets resolved the way the kubelet would), against real PostgreSQL.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { V1ConfigMap, V1Deployment } from '@kubernetes/client-node';
import { parseVoiceAgent } from '../../cdk8s/api/v1alpha1/index.ts';
import { renderVoiceAgent } from '../../cdk8s/charts/index.ts';
import { readDocs } from '../cdk8s/charts/fixtures.ts';
import { type Managed, startProcess, waitFor } from '../support/processes.ts';
import { harnessForTests, KEY_SPEC } from '../voice-gateway/memory/harness.ts';
import { AUTH_TOKEN, startAdversarialGateway } from './gateway.ts';
import { forgedSignatures, nativeWithoutToken, rawRequest, type Target, targetOf } from './http-attacks.ts';

const root = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'callfleet-native-'));
/** The Secrets of the namespace, as `kubectl create secret` would hold them. */
const SECRETS: Record<string, Record<string, string>> = {
  elevenlabs: {
    'api-key': 'xi-test-key',
    'webhook-secret': 'whsec_native_adversarial',
    'request-token': 'el-request-token-8f3a',
  },
};
const CALLER = '+442071838751';

function rendered() {
  const [doc] = readDocs(join(root, 'examples/voiceagent-elevenlabs-native.yaml'));
  const va = parseVoiceAgent({ ...doc, metadata: { name: 'concierge', namespace: 'voice', uid: 'u-1' } });
  assert.ok(va.ok);
  const r = renderVoiceAgent(va.value, {
    memoryStore: { name: 'callers', connectionSecretName: 'callers-connection', ready: true },
  });
  assert.ok(r.ok);
  const deployment = r.objects.find((o) => o.kind === 'Deployment') as V1Deployment;
  const configMap = r.objects.find((o) => o.kind === 'ConfigMap') as V1ConfigMap;
  return { deployment, configMap };
}

/** The container's environment with secretKeyRefs resolved (what the kubelet hands the process). */
function containerEnv(deployment: V1Deployment, dbUrl: string, drop: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of deployment.spec?.template.spec?.containers[0]?.env ?? []) {
    if (drop.includes(e.name)) continue;
    const ref = e.valueFrom?.secretKeyRef;
    if (e.name === 'CALLFLEET_MEMORY_URL') out[e.name] = dbUrl;
    else if (e.name === 'CALLFLEET_ENCRYPTION_KEY') out[e.name] = KEY_SPEC;
    else if (ref) {
      const v = SECRETS[ref.name ?? '']?.[ref.key];
      assert.ok(v !== undefined, `Secret ${ref.name}/${ref.key} referenced by ${e.name}`);
      out[e.name] = v;
    } else out[e.name] = e.value ?? '';
  }
  return out;
}

async function spawnRendered(name: string, dbUrl: string, drop: string[] = []) {
  const { deployment, configMap } = rendered();
  const config = join(dir, `${name}.json`);
  writeFileSync(config, configMap.data?.['gateway.json'] ?? '');
  const logFile = join(dir, `${name}.log`);
  const env = {
    ...containerEnv(deployment, dbUrl, drop),
    CALLFLEET_GATEWAY_CONFIG: config,
    PORT: '0',
    CALLFLEET_INTERNAL_PORT: '0',
    HOST: '127.0.0.1',
  };
  const proc = startProcess(name, process.execPath, [join(root, 'bin/callfleet.ts'), 'gateway'], logFile, {
    env,
  });
  const log = () => readFileSync(logFile, 'utf8');
  let port = 0;
  await waitFor(
    `${name} to listen`,
    async () => {
      if (proc.child.exitCode !== null) throw new Error(log());
      port = Number(/"port":(\d+)/.exec(log())?.[1] ?? 0);
      return port > 0;
    },
    20_000,
    50,
  );
  await waitFor(`${name}: memory ready`, async () => /caller memory ready/.test(log()), 20_000, 50);
  return { proc, log, target: targetOf(`http://127.0.0.1:${port}`) };
}

const post = (t: Target, path: string, body: string, headers: Record<string, string> = {}) =>
  rawRequest(
    t,
    `POST ${path} HTTP/1.1\r\nHost: concierge.example.com\r\nContent-Type: application/json\r\n${Object.entries(
      headers,
    )
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );

describe('elevenlabs-native fails closed, configured as rendered', { timeout: 120_000 }, () => {
  const h = harnessForTests();
  const procs: Managed[] = [];
  let gw: Awaited<ReturnType<typeof spawnRendered>>;
  let unset: Awaited<ReturnType<typeof spawnRendered>>;

  before(async () => {
    [gw, unset] = await Promise.all([
      spawnRendered('native', h().pg.url),
      spawnRendered('native-no-token', h().pg.url, ['ELEVENLABS_REQUEST_TOKEN']),
    ]);
    procs.push(gw.proc, unset.proc);
  });
  after(async () => {
    await Promise.all(procs.map((p) => p.stop('SIGTERM', 5_000)));
  });

  it('the rendered pod gets both secrets: the request token and the post-call HMAC secret', () => {
    const env = rendered().deployment.spec?.template.spec?.containers[0]?.env ?? [];
    const ref = (n: string) => env.find((e) => e.name === n)?.valueFrom?.secretKeyRef;
    assert.deepEqual(ref('ELEVENLABS_REQUEST_TOKEN'), { name: 'elevenlabs', key: 'request-token' });
    assert.deepEqual(ref('ELEVENLABS_WEBHOOK_SECRET'), { name: 'elevenlabs', key: 'webhook-secret' });
  });

  it('a signed post-call webhook is accepted and stored; conversation-init with the token knows the caller', async () => {
    const now = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({
      type: 'post_call_transcription',
      event_timestamp: now,
      data: {
        conversation_id: 'conv_native_adversarial_1',
        status: 'done',
        metadata: {
          start_time_unix_secs: now - 90,
          call_duration_secs: 60,
          phone_call: { external_number: CALLER, agent_number: '+442000000000' },
        },
        transcript: [
          { role: 'user', message: 'Please call me back about the invoice.', time_in_call_secs: 2 },
        ],
        analysis: { transcript_summary: 'Wants a call back about the invoice.' },
      },
    });
    const secret = SECRETS.elevenlabs?.['webhook-secret'] ?? '';
    const sig = `t=${now},v0=${createHmac('sha256', secret).update(`${now}.${body}`).digest('hex')}`;
    const forged = `t=${now},v0=${createHmac('sha256', 'guessed').update(`${now}.${body}`).digest('hex')}`;
    assert.equal(
      (await post(gw.target, '/elevenlabs/post-call', body, { 'ElevenLabs-Signature': forged })).status,
      401,
    );
    const ok = await post(gw.target, '/elevenlabs/post-call', body, { 'ElevenLabs-Signature': sig });
    assert.equal(ok.status, 200, ok.body);
    assert.match(ok.body, /accepted/);
    await waitFor(
      'the call record',
      async () =>
        (await h().pool.query(`SELECT 1 FROM calls WHERE call_sid = 'conv_native_adversarial_1'`))
          .rowCount === 1,
      10_000,
      50,
    );
    const token = SECRETS.elevenlabs?.['request-token'];
    const init = await post(
      gw.target,
      '/elevenlabs/conversation-init',
      JSON.stringify({ caller_id: CALLER }),
      {
        Authorization: `Bearer ${token}`,
      },
    );
    assert.equal(init.status, 200, init.body);
    assert.match(init.body, /"caller_known":true/);
    assert.match(init.body, /invoice/);
  });

  it('without the token, or with a wrong one, conversation-init and search-memory refuse (401)', async () => {
    const r = await nativeWithoutToken(gw.target);
    assert.ok(r.held, JSON.stringify(r.detail));
    const statuses = new Set((r.detail.answers as { status: number }[]).map((a) => a.status));
    assert.deepEqual([...statuses], [401]);
  });

  it('with the token unset in the pod, they refuse everything (503) and the gateway said so at start', async () => {
    const r = await nativeWithoutToken(unset.target);
    assert.ok(r.held, JSON.stringify(r.detail));
    const statuses = new Set((r.detail.answers as { status: number }[]).map((a) => a.status));
    assert.deepEqual([...statuses], [503]);
    assert.match(unset.log(), /elevenlabs-native mode without ELEVENLABS_REQUEST_TOKEN/);
    assert.doesNotMatch(gw.log() + unset.log(), /el-request-token-8f3a|whsec_native_adversarial/);
  });
});

describe('forged Twilio signatures (already refused: kept as a regression test)', () => {
  it('voice and stream-status webhooks with missing, wrong, wrong-URL or tampered signatures get 400/403', async () => {
    const gw = await startAdversarialGateway();
    try {
      const r = await forgedSignatures(gw.target);
      assert.ok(r.held, JSON.stringify(r.detail));
      assert.ok((await gw.metric('callfleet_signature_rejected_total')) >= 7);
      assert.equal(AUTH_TOKEN.length > 0, true);
    } finally {
      await gw.close();
    }
  });
});
