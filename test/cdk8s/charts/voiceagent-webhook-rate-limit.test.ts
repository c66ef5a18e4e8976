// The webhook Ingress's rate limit, through the real nginx as ingress-nginx configures it: Twilio's
// webhooks for a campaign at its fastest pace and as many inbound calls, all from one address, pass; the
// limit still refuses a flood (shown with a lower limit set through ingress.annotations, which win).
import assert from 'node:assert/strict';
import { createServer, Agent as HttpAgent, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { V1Ingress } from '@kubernetes/client-node';
import { MAX_CALLS_PER_SECOND } from '../../../cdk8s/api/v1alpha1/callcampaign.ts';
import { WEBHOOKS_PER_CALL } from '../../../cdk8s/charts/voiceagent/ingress-nginx.ts';
import { type StaticFrontDoor, startFrontDoor } from '../../adversarial/front-door.ts';
import { render, variants } from './fixtures.ts';

const LIMIT = 'nginx.ingress.kubernetes.io/limit-rps';

function ingressesOf(annotations?: Record<string, string>): V1Ingress[] {
  const example = variants().find((v) => v.name === 'variant-nginx');
  assert.ok(example);
  if (annotations) {
    const doc = example.docs[0] as { spec: { ingress: Record<string, unknown> } };
    doc.spec.ingress = { ...doc.spec.ingress, annotations };
  }
  return render(example).filter((o) => o.kind === 'Ingress') as V1Ingress[];
}

/** Posts `perSecond` webhooks a second for `seconds` from one address; counts the answers by status. */
async function paced(
  door: StaticFrontDoor,
  perSecond: number,
  seconds: number,
): Promise<Map<number, number>> {
  const agent = new HttpAgent({ keepAlive: true, maxSockets: 64 });
  const statuses = new Map<number, number>();
  const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
  const post = () =>
    new Promise<void>((resolve) => {
      const req = request(
        `${door.url}/twilio/call-status`,
        { method: 'POST', agent, headers: { host: 'nginx.example.com', 'content-length': '0' } },
        (res) => {
          count(res.statusCode ?? 0);
          res.resume().on('end', resolve);
        },
      );
      req.on('error', () => {
        count(0);
        resolve();
      });
      req.end();
    });
  const sent: Promise<void>[] = [];
  const ticks = seconds * 10;
  const start = performance.now();
  for (let t = 0; t < ticks; t++) {
    for (let i = 0; i < perSecond / 10; i++) sent.push(post());
    const next = start + (t + 1) * 100;
    await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
  }
  await Promise.all(sent);
  agent.destroy();
  return statuses;
}

describe('webhook rate limit of the nginx front door', { timeout: 120_000 }, () => {
  let gateway: Server;
  const doors: StaticFrontDoor[] = [];

  before(async () => {
    gateway = createServer((_req, res) => res.writeHead(204).end());
    await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    for (const door of doors) await door.stop();
    gateway.closeAllConnections();
    await new Promise((r) => gateway.close(r));
  });

  const open = async (ingresses: V1Ingress[]) => {
    const door = await startFrontDoor(ingresses, (gateway.address() as AddressInfo).port);
    doors.push(door);
    return door;
  };

  it('carries a campaign at its fastest pace and as many inbound calls from one address: none refused', async () => {
    const ingresses = ingressesOf();
    const limit = Number(
      ingresses.find((i) => i.metadata?.name?.endsWith('-webhooks'))?.metadata?.annotations?.[LIMIT],
    );
    const legitimate = 2 * MAX_CALLS_PER_SECOND * WEBHOOKS_PER_CALL;
    assert.ok(limit >= legitimate, `limit-rps ${limit} below the legitimate peak ${legitimate}`);
    const door = await open(ingresses);
    // The legitimate peak for 3 s, all from 127.0.0.1: nothing may be refused.
    const statuses = await paced(door, legitimate, 3);
    assert.deepEqual([...statuses.keys()], [204], `answers ${JSON.stringify([...statuses])}`);
  });

  it('a flood beyond the limit is refused with 503 (the guard works; ingress.annotations override it)', async () => {
    const door = await open(ingressesOf({ [LIMIT]: '20' }));
    const statuses = await paced(door, 400, 2);
    assert.ok((statuses.get(503) ?? 0) > 300, `answers ${JSON.stringify([...statuses])}`);
    assert.ok((statuses.get(204) ?? 0) >= 100, `answers ${JSON.stringify([...statuses])}`);
  });
});
