// The process kubelet end to end: a real control plane, two process nodes, the echo VoiceAgent's
// rendered children (Deployment, ConfigMap, Services, nginx Ingresses) applied as the operator would,
// real gateway processes on their own pod IPs, EndpointSlices from the real controller, a real nginx
// in front, and simulated Twilio calls through it — including a pod deleted mid-call.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { V1EndpointSlice, V1Pod } from '@kubernetes/client-node';
import pg from 'pg';
import { parse } from 'yaml';
import { placeCall, speechPattern, startCall } from '../simulator/call.ts';
import { type DeployedVoiceAgent, type Fleet, startFleetEnvironment } from './fleet.ts';
import { kubectlOk } from './kube-helpers.ts';
import type { FrontDoor } from './nginx.ts';
import { POD_IP_PREFIX } from './pod-ips.ts';
import { waitFor } from './processes.ts';

const root = new URL('../../', import.meta.url).pathname;
const NS = 'default';

let fleet: Fleet;
let deployed: DeployedVoiceAgent;
let door: FrontDoor;

async function pods(): Promise<V1Pod[]> {
  const out = await kubectlOk(fleet.cluster, [
    'get',
    'pods',
    '-n',
    NS,
    '-l',
    'callfleet.io/voiceagent=echo',
    '-o',
    'json',
  ]);
  return (JSON.parse(out) as { items: V1Pod[] }).items;
}

const isReady = (p: V1Pod) => p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
const live = (p: V1Pod) => !p.metadata?.deletionTimestamp;

async function slices(service: string): Promise<V1EndpointSlice[]> {
  const out = await kubectlOk(fleet.cluster, [
    'get',
    'endpointslices',
    '-n',
    NS,
    '-l',
    `kubernetes.io/service-name=${service}`,
    '-o',
    'json',
  ]);
  return (JSON.parse(out) as { items: V1EndpointSlice[] }).items;
}

async function readyEndpointIps(service: string): Promise<string[]> {
  return (await slices(service))
    .flatMap((s) => s.endpoints ?? [])
    .filter((e) => e.conditions?.ready === true)
    .flatMap((e) => e.addresses)
    .sort();
}

async function waitForReadyPods(count: number, timeoutMs = 60_000): Promise<V1Pod[]> {
  let ready: V1Pod[] = [];
  await waitFor(
    `${count} Ready echo pods`,
    async () => {
      ready = (await pods()).filter((p) => live(p) && isReady(p));
      return ready.length === count;
    },
    timeoutMs,
    200,
  );
  return ready;
}

describe('process kubelet + nginx front door [e2e]', { timeout: 300_000 }, () => {
  before(async () => {
    fleet = await startFleetEnvironment({ processNodes: 2, restartBackoffMs: 1000 });
    const doc = parse(readFileSync(`${root}examples/voiceagent-echo.yaml`, 'utf8')) as {
      spec: Record<string, unknown>;
    };
    doc.spec.ingress = { className: 'nginx', host: 'calls.example.com' };
    doc.spec.calls = { maxDurationSeconds: 30 };
    doc.spec.drain = { preStopSeconds: 2, gracePeriodSeconds: 30 };
    deployed = await fleet.deployVoiceAgent(doc, { replicas: 2 });
  });

  after(async () => {
    if (!fleet) return;
    for (const e of fleet.kubelet.events) {
      if (process.env.CALLFLEET_E2E_VERBOSE) console.log(JSON.stringify(e));
    }
    await fleet.stop();
  });

  it('runs both replicas as processes on their own pod IPs; Ready only after the readiness probe', async () => {
    const ready = await waitForReadyPods(2);
    const ips = ready.map((p) => p.status?.podIP ?? '');
    for (const ip of ips)
      assert.match(ip, new RegExp(`^${POD_IP_PREFIX.replace('.', '\\.')}\\.\\d+\\.\\d+$`));
    assert.notEqual(ips[0], ips[1]);
    assert.deepEqual(new Set(ready.map((p) => p.spec?.nodeName)).size, 2, 'spread over both process nodes');
    for (const pod of ready) {
      const name = pod.metadata?.name ?? '';
      const started = fleet.kubelet.events.find((e) => e.pod === `${NS}/${name}` && e.type === 'started');
      const readyAt = fleet.kubelet.events.find((e) => e.pod === `${NS}/${name}` && e.type === 'ready');
      assert.ok(started && readyAt && readyAt.at > started.at, `${name}: started, then ready`);
      const status = pod.status?.containerStatuses?.[0];
      assert.equal(status?.started, true);
      assert.equal(status?.ready, true);
      const health = await fetch(`http://${pod.status?.podIP}:8080/health/ready`);
      assert.equal(health.status, 200);
      console.log(`[figures] ${name}: process start → Ready ${readyAt.at - started.at} ms`);
    }
    // The real endpointslice controller lists them, ready.
    await waitFor('EndpointSlices list both pods ready', async () => {
      const want = [...ips].sort();
      return (
        JSON.stringify(await readyEndpointIps('echo-streams')) === JSON.stringify(want) &&
        JSON.stringify(await readyEndpointIps('echo-webhooks')) === JSON.stringify(want)
      );
    });
  });

  it('nginx mirrors the rendered Ingress and carries a call end to end', async () => {
    door = await fleet.frontDoor(NS, 'echo');
    await door.waitForServers('echo-streams', (s) => s.length === 2);
    const config = door.config();
    assert.match(config, /hash \$request_uri consistent;/);
    assert.match(config, /proxy_read_timeout 3600s;/);
    assert.match(config, /worker_shutdown_timeout 3600s;/);
    const t0 = performance.now();
    const result = await placeCall({
      gatewayUrl: door.url,
      publicBaseUrl: deployed.publicBaseUrl,
      authToken: deployed.authToken,
      audio: speechPattern(1500),
      hangupAfterMs: 2500,
    });
    assert.equal(result.webhookStatus, 200, result.twiml);
    assert.equal(result.kind, 'stream', result.twiml);
    assert.equal(result.endedBy, 'caller');
    assert.ok(result.mediaReceived > 0, 'the echo agent talked back through nginx');
    console.log(
      `[figures] call through nginx: ${Math.round(performance.now() - t0)} ms, ${result.mediaReceived} media frames back`,
    );
  });

  it('deleting a pod mid-call: NotReady at once, out of the endpoints, the call ends normally, exit 0', async () => {
    const before = (await pods()).filter(live);
    const reloadsBefore = door.reloads();
    const call = await startCall({
      gatewayUrl: door.url,
      publicBaseUrl: deployed.publicBaseUrl,
      authToken: deployed.authToken,
      audio: speechPattern(1000),
      hangupAfterMs: 6000,
    });
    assert.equal(call.result.kind, 'stream', call.result.twiml);
    // Which pod carries it?
    let busy: V1Pod | undefined;
    await waitFor('the pod carrying the call', async () => {
      for (const p of before) {
        const s = (await (await fetch(`http://${p.status?.podIP}:9090/status`)).json()) as {
          activeCalls: number;
        };
        if (s.activeCalls > 0) busy = p;
      }
      return busy !== undefined;
    });
    const name = busy?.metadata?.name ?? '';
    const ip = busy?.status?.podIP ?? '';
    const proc = fleet.kubelet.processesOf(NS, name).get('gateway');
    assert.ok(proc, 'gateway process of the busy pod');
    const deletedAt = performance.now();
    await kubectlOk(fleet.cluster, ['delete', 'pod', '-n', NS, name, '--wait=false']);

    await waitFor(
      'the deleted pod NotReady',
      async () => {
        const p = (await pods()).find((x) => x.metadata?.name === name);
        return !p || !isReady(p);
      },
      5000,
      50,
    );
    const notReadyMs = performance.now() - deletedAt;
    await waitFor(
      'the pod out of the ready endpoints',
      async () => !(await readyEndpointIps('echo-streams')).includes(ip),
      5000,
      50,
    );
    const outOfEndpointsMs = performance.now() - deletedAt;
    await door.waitForServers('echo-streams', (s) => !s.some((x) => x.startsWith(`${ip}:`)), 5000);
    const outOfNginxMs = performance.now() - deletedAt;

    // New calls during the drain go to the other pod.
    const other = await placeCall({
      gatewayUrl: door.url,
      publicBaseUrl: deployed.publicBaseUrl,
      authToken: deployed.authToken,
      hangupAfterMs: 500,
    });
    assert.equal(other.kind, 'stream', `a new call during the drain: ${other.twiml}`);

    const result = await call.done;
    assert.equal(result.endedBy, 'caller', 'the caller hung up: the call was not cut');
    assert.ok(
      door.reloads() > reloadsBefore,
      'nginx reloaded while the call was live (worker_shutdown_timeout kept it)',
    );
    assert.ok(result.durationMs >= 5500, `call lasted ${result.durationMs} ms`);
    assert.equal(await proc.exited, 0, 'the gateway exits 0 after draining');
    await waitFor(
      'the pod object gone',
      async () => !(await pods()).some((p) => p.metadata?.name === name),
      20_000,
      200,
    );
    const goneMs = performance.now() - deletedAt;
    console.log(
      `[figures] delete → NotReady ${Math.round(notReadyMs)} ms, → out of EndpointSlice ${Math.round(outOfEndpointsMs)} ms, → out of nginx ${Math.round(outOfNginxMs)} ms, → pod gone ${Math.round(goneMs)} ms (call ${Math.round(result.durationMs)} ms, preStop 2 s); nginx reloads so far ${door.reloads()}`,
    );
    // The ReplicaSet replaces it.
    await waitForReadyPods(2);
  });

  it('a SIGKILLed gateway is a container failure: restarted, restartCount 1, Ready again', async () => {
    const [victim] = await waitForReadyPods(2);
    const name = victim?.metadata?.name ?? '';
    const proc = fleet.kubelet.processesOf(NS, name).get('gateway');
    assert.ok(proc);
    const killedAt = performance.now();
    proc.child.kill('SIGKILL');
    let pod: V1Pod | undefined;
    await waitFor(
      'restart and Ready again',
      async () => {
        pod = (await pods()).find((p) => p.metadata?.name === name);
        const s = pod?.status?.containerStatuses?.[0];
        return s?.restartCount === 1 && s.ready === true && pod !== undefined && isReady(pod);
      },
      60_000,
      100,
    );
    const status = pod?.status?.containerStatuses?.[0];
    assert.equal(status?.lastState?.terminated?.exitCode, 137);
    assert.equal(status?.lastState?.terminated?.reason, 'Error');
    console.log(`[figures] SIGKILL → restarted and Ready ${Math.round(performance.now() - killedAt)} ms`);
  });

  it('a postgres:17 MemoryStore pod is a real PostgreSQL on its pod IP, Ready by its exec probe', async () => {
    const doc = parse(readFileSync(`${root}examples/memorystore-postgres.yaml`, 'utf8'));
    const objects = await fleet.deployMemoryStore(doc);
    const secret = objects.find((o) => o.kind === 'Secret' && /credentials/.test(o.metadata.name));
    const data =
      secret?.data ?? (secret as unknown as { stringData?: Record<string, string> })?.stringData ?? {};
    const decode = (v: string | undefined) =>
      secret?.data ? Buffer.from(v ?? '', 'base64').toString() : (v ?? '');
    let pod: V1Pod | undefined;
    const t0 = performance.now();
    await waitFor(
      'the postgres pod Ready',
      async () => {
        const out = await kubectlOk(fleet.cluster, [
          'get',
          'pods',
          '-n',
          NS,
          '-l',
          'callfleet.io/memorystore=callers',
          '-o',
          'json',
        ]);
        pod = (JSON.parse(out) as { items: V1Pod[] }).items.find((p) => isReady(p));
        return pod !== undefined;
      },
      90_000,
      250,
    );
    console.log(`[figures] postgres pod created → Ready ${Math.round(performance.now() - t0)} ms`);
    // TLS only (pg_hba), verified against the CA the operator generated, as the gateways do.
    const tls = objects.find((o) => o.kind === 'Secret' && /-postgres-tls$/.test(o.metadata.name));
    const tlsData =
      tls?.data ?? (tls as unknown as { stringData?: Record<string, string> })?.stringData ?? {};
    const ca = tls?.data
      ? Buffer.from(tlsData['ca.crt'] ?? '', 'base64').toString()
      : (tlsData['ca.crt'] ?? '');
    assert.match(ca, /BEGIN CERTIFICATE/, 'the generated CA');
    const client = new pg.Client({
      host: pod?.status?.podIP,
      port: 5432,
      user: decode(data.username),
      password: decode(data.password),
      database: 'callfleet',
      ssl: { ca, servername: `callers-postgres.${NS}.svc` },
    });
    await client.connect();
    const r = await client.query('select current_user as u');
    await client.end();
    assert.equal(r.rows[0].u, decode(data.username));
  });
});
