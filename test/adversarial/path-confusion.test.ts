// Issue 15, hole 5: a crafted path through the nginx front door reached the data-rights API, and
// /status, /metrics answered anyone on the public port. Every path is normalised once before routing
// (ambiguous ones are refused) and the internal endpoints live on the internal door only.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { V1Ingress } from '@kubernetes/client-node';
import { parseVoiceAgent } from '../../cdk8s/api/v1alpha1/index.ts';
import { renderVoiceAgent } from '../../cdk8s/charts/index.ts';
import { createDataRightsApi } from '../../voice-gateway/memory/http/data-rights-api.ts';
import { readDocs } from '../cdk8s/charts/fixtures.ts';
import { harnessForTests } from '../voice-gateway/memory/harness.ts';
import { type StaticFrontDoor, startFrontDoor } from './front-door.ts';
import { type AdversarialGateway, FULL, startAdversarialGateway } from './gateway.ts';
import { confusingPaths, internalOnPublic, pathConfusion, rawRequest, targetOf } from './http-attacks.ts';

const DSR_TOKEN = 'dsr-token-the-attacker-somehow-has';
const VICTIM = '+14155550142';
const CRAFTED = '/memory/../elevenlabs/x\\..\\..\\memory/export';

describe('path confusion and internal endpoints on the public door', { timeout: 180_000 }, () => {
  const h = harnessForTests();
  let gw: AdversarialGateway;
  let door: StaticFrontDoor;

  before(async () => {
    const store = h().store();
    store.record({
      callSid: 'CA00000000000000000000000000000142',
      from: VICTIM,
      to: '+14155550199',
      startedAt: new Date(Date.now() - 60_000).toISOString(),
      endedAt: new Date().toISOString(),
      outcome: 'completed',
      transcript: [{ role: 'caller', text: 'My account number is 12345.', atMs: 0 }],
      summary: 'Victim asked about their account 12345.',
    });
    await store.flush(5_000);
    const api = createDataRightsApi({ pool: h().pool, keyring: h().keyring, token: DSR_TOKEN });
    gw = await startAdversarialGateway({
      dataRights: (req) => {
        const q = req.path && 'query' in req ? String((req as { query: URLSearchParams }).query) : '';
        const url = req.path ? `${req.path}${q ? `?${q}` : ''}` : req.url;
        return api(req.method, url, req.body, req.headers as Record<string, string>);
      },
    });
    // The front door exactly as rendered for the elevenlabs-native example (nginx Ingresses).
    const [doc] = readDocs(
      new URL('../../examples/voiceagent-elevenlabs-native.yaml', import.meta.url).pathname,
    );
    const va = parseVoiceAgent({ ...doc, metadata: { name: 'concierge', namespace: 'voice', uid: 'u-1' } });
    assert.ok(va.ok);
    const rendered = renderVoiceAgent(va.value);
    assert.ok(rendered.ok);
    const ingresses = rendered.objects.filter((o) => o.kind === 'Ingress') as V1Ingress[];
    assert.ok(ingresses.length > 0);
    door = await startFrontDoor(ingresses, gw.target.port);
  });
  after(async () => {
    await door?.stop();
    await gw?.close();
  });

  it('the crafted path through the nginx front door never reaches the data-rights API', async () => {
    const body = JSON.stringify({ phone: VICTIM });
    const request = `POST ${CRAFTED} HTTP/1.1\r\nHost: concierge.example.com\r\nAuthorization: Bearer ${DSR_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
    const viaDoor = await rawRequest(targetOf(door.url), request);
    const direct = await rawRequest(gw.target, request);
    assert.deepEqual(gw.dataRightsReached, [], 'the data-rights API was reached');
    for (const r of [viaDoor, direct]) {
      assert.ok(r.status !== undefined && r.status >= 400, `answered ${r.status}: ${r.body}`);
      assert.doesNotMatch(r.body, /12345|account/);
    }
    assert.equal(direct.status, 400);
    assert.match(direct.body, /bad request path/);
  });

  it(`${confusingPaths(FULL).length} confusing paths (GET and POST), direct and via nginx: none answered 2xx, none reached the API`, async () => {
    const direct = await pathConfusion(gw.target, FULL);
    const viaDoor = await pathConfusion(targetOf(door.url), FULL);
    assert.deepEqual(gw.dataRightsReached, []);
    assert.ok(direct.held, JSON.stringify(direct.detail));
    assert.ok(viaDoor.held, JSON.stringify(viaDoor.detail));
    if (process.env.ADVERSARIAL_REPORT)
      console.log(JSON.stringify({ direct: direct.detail, viaDoor: viaDoor.detail }));
    // Refused at the gateway's door with 400 (not merely unrouted), and counted.
    const statuses = direct.detail.statuses as Record<string, number>;
    assert.ok((statuses['400'] ?? 0) >= confusingPaths(FULL).length, JSON.stringify(statuses));
    assert.ok((await gw.metric('callfleet_http_rejected_total')) >= confusingPaths(FULL).length);
  });

  it('/status, /metrics and /memory/* answer 404 on the public port, directly and via nginx', async () => {
    for (const t of [gw.target, targetOf(door.url)]) {
      const r = await internalOnPublic(t);
      assert.ok(r.held, JSON.stringify(r.detail));
    }
    assert.deepEqual(gw.dataRightsReached, []);
  });

  it('the internal door serves status, metrics and the data-rights API, and refuses crafted paths too', async () => {
    assert.ok(gw.internalUrl, 'the gateway has an internal door');
    const status = await fetch(`${gw.internalUrl}/status`);
    assert.equal(status.status, 200);
    assert.equal(typeof ((await status.json()) as { activeCalls: number }).activeCalls, 'number');
    assert.match(await (await fetch(`${gw.internalUrl}/metrics`)).text(), /callfleet_http_rejected_total/);
    const exported = await fetch(`${gw.internalUrl}/memory/export`, {
      method: 'POST',
      headers: { authorization: `Bearer ${DSR_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ phone: VICTIM }),
    });
    assert.equal(exported.status, 200);
    assert.equal(gw.dataRightsReached.length, 1);
    const crafted = await pathConfusion(targetOf(gw.internalUrl), false);
    assert.ok(crafted.held, JSON.stringify(crafted.detail));
    assert.equal(gw.dataRightsReached.length, 1, 'a crafted path reached the API on the internal door');
  });
});
