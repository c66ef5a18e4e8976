// Issue 11, automatic rollback, end to end: the real operator, the process kubelet and nginx. A release
// whose gateways never become ready, and one whose calls fail at once, are each rolled back to the last
// good revision; the VoiceAgent shows Degraded/RolloutFailed with the cause; live calls on the old
// version are untouched; the failed generation is not retried until the spec changes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { V1Container, V1Deployment } from '@kubernetes/client-node';
import {
  defaultImageCommands,
  type Fleet,
  GATEWAY_TEST_IMAGE,
  startFleetEnvironment,
} from '../support/fleet.ts';
import { getObject, type KObject, kubectlOk, waitForReady } from '../support/kube-helpers.ts';
import type { FrontDoor } from '../support/nginx.ts';
import { type OperatorProcess, startOperator } from '../support/operator.ts';
import { waitFor } from '../support/processes.ts';
import { CallLoad, type Target } from './call-load.ts';

const root = new URL('../../', import.meta.url).pathname;
const AUTH_TOKEN = 'rollback-auth-token';
const NEVER_READY = `${GATEWAY_TEST_IMAGE.replace(/:.*$/, '')}:never-ready`;
const BAD_BACKEND = `${GATEWAY_TEST_IMAGE.replace(/:.*$/, '')}:bad-backend`;

/** Test releases: one crashes at start (never Ready), one runs but fails every call. */
function imageCommands(image: string, container: V1Container) {
  if (image === NEVER_READY)
    return { command: [process.execPath, '-e', 'setTimeout(() => process.exit(1), 300)'], cwd: root };
  if (image === BAD_BACKEND) {
    return {
      command: [process.execPath, `${root}test/e2e/fixtures/bad-backend-gateway.ts`],
      args: [],
      cwd: root,
    };
  }
  return defaultImageCommands(image, container);
}

let fleet: Fleet;
let operator: OperatorProcess;

interface Agent {
  ns: string;
  name: string;
  door: FrontDoor;
  target: Target;
}

async function startAgent(name: string, rollout: Record<string, unknown>): Promise<Agent> {
  await kubectlOk(fleet.cluster, ['create', 'namespace', name]);
  await kubectlOk(fleet.cluster, [
    'create',
    'secret',
    'generic',
    'twilio',
    '-n',
    name,
    '--from-literal=account-sid=AC00000000000000000000000000000000',
    `--from-literal=auth-token=${AUTH_TOKEN}`,
  ]);
  const va = {
    apiVersion: 'callfleet.io/v1alpha1',
    kind: 'VoiceAgent',
    metadata: { name },
    spec: {
      agent: { provider: 'echo' },
      telephony: {
        twilio: {
          accountSidSecretRef: { name: 'twilio', key: 'account-sid' },
          authTokenSecretRef: { name: 'twilio', key: 'auth-token' },
        },
      },
      ingress: { className: 'nginx', host: `${name}.calls.example.com` },
      calls: { maxConcurrentPerPod: 50, maxDurationSeconds: 120, silenceTimeoutSeconds: 60 },
      drain: { gracePeriodSeconds: 150, preStopSeconds: 1 },
      autoscaling: { enabled: false },
      replicas: 2,
      image: GATEWAY_TEST_IMAGE,
      rollout,
    },
  };
  await kubectlOk(fleet.cluster, ['apply', '-n', name, '-f', '-'], JSON.stringify(va));
  await waitForReady(fleet.cluster, name, `voiceagent/${name}`, 120_000);
  await waitFor(
    'the last good revision recorded',
    async () => Boolean((await getVa(name)).status?.lastGoodTemplate),
    30_000,
    250,
  );
  const door = await fleet.frontDoor(name, name);
  await door.waitForServers(`${name}-streams`, (s) => s.length === 2, 30_000);
  await door.waitForServers(`${name}-webhooks`, (s) => s.length === 2, 30_000);
  return {
    ns: name,
    name,
    door,
    target: {
      gatewayUrl: door.url,
      publicBaseUrl: `https://${name}.calls.example.com`,
      authToken: AUTH_TOKEN,
    },
  };
}

async function getVa(name: string): Promise<KObject> {
  const va = await getObject(fleet.cluster, name, `voiceagent/${name}`);
  assert.ok(va, `VoiceAgent ${name} exists`);
  return va;
}

async function deploymentImage(name: string): Promise<string | undefined> {
  const d = (await getObject(fleet.cluster, name, `deployment/${name}`)) as unknown as V1Deployment | null;
  return d?.spec?.template?.spec?.containers?.[0]?.image;
}

async function waitForRollback(name: string, cause: RegExp): Promise<KObject> {
  let va: KObject | undefined;
  await waitForRollbackOrExplain(name, async () =>
    waitFor(
      'Degraded=True RolloutFailed',
      async () => {
        va = await getVa(name);
        const degraded = va.status?.conditions?.find((c) => c.type === 'Degraded');
        return (
          degraded?.status === 'True' &&
          degraded.reason === 'RolloutFailed' &&
          cause.test(degraded.message ?? '')
        );
      },
      120_000,
      500,
    ),
  );
  return va as KObject;
}

/** On failure, say what the VoiceAgent, its Deployment and the gateways looked like. */
async function waitForRollbackOrExplain(name: string, wait: () => Promise<void>): Promise<void> {
  try {
    await wait();
  } catch (error) {
    const va = await getObject(fleet.cluster, name, `voiceagent/${name}`);
    const d = await getObject(fleet.cluster, name, `deployment/${name}`);
    const pods = await kubectlOk(fleet.cluster, ['get', 'pods', '-n', name, '-o', 'wide']);
    throw new Error(
      `${String(error)}\nVoiceAgent status: ${JSON.stringify(va?.status)}\nDeployment status: ${JSON.stringify(d?.status)}\n${pods}`,
    );
  }
}

async function rollbackEvent(name: string): Promise<boolean> {
  const events = JSON.parse(
    await kubectlOk(fleet.cluster, ['get', 'events.events.k8s.io', '-n', name, '-o', 'json']),
  );
  return (events.items as { reason?: string }[]).some((e) => e.reason === 'RolloutFailed');
}

describe('automatic rollback [e2e, issue 11]', { timeout: 600_000 }, () => {
  before(async () => {
    fleet = await startFleetEnvironment({ processNodes: 2, restartBackoffMs: 1000, imageCommands });
    await kubectlOk(fleet.cluster, ['apply', '--server-side', '-f', `${root}crds`]);
    await kubectlOk(fleet.cluster, [
      'wait',
      '--for=condition=Established',
      '--timeout=30s',
      'crd/voiceagents.callfleet.io',
    ]);
    operator = await startOperator(fleet.cluster, ['--call-poll=1']);
  });

  after(async () => {
    await operator?.stop();
    await fleet?.stop();
  });

  it('a release whose gateways never become ready is rolled back; live calls are untouched', async () => {
    const t0 = performance.now();
    const agent = await startAgent('stall', { progressDeadlineSeconds: 15 });
    const live = new CallLoad(agent.target);
    await live.place({
      count: 6,
      minMs: 40_000,
      maxMs: 50_000,
      audio: 'dtmf',
      label: 'live on the old version',
    });

    await kubectlOk(fleet.cluster, [
      'patch',
      '-n',
      agent.ns,
      'va',
      agent.name,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { image: NEVER_READY } }),
    ]);
    const va = await waitForRollback(agent.name, /did not become ready/);
    assert.equal(va.status?.failedGeneration, va.metadata.generation);
    assert.equal(
      await deploymentImage(agent.name),
      GATEWAY_TEST_IMAGE,
      'the pod template is the last good one again',
    );
    assert.ok(await rollbackEvent(agent.name), 'a RolloutFailed Event was recorded');

    // Not retried while the spec stays the same.
    await new Promise((r) => setTimeout(r, 10_000));
    assert.equal(await deploymentImage(agent.name), GATEWAY_TEST_IMAGE);

    await live.settle(120_000);
    const s = live.summary();
    console.log(
      `[rollback] never-ready release: ${live.line()} (wall ${((performance.now() - t0) / 1000).toFixed(1)} s)`,
    );
    assert.equal(s.cut, 0, live.failures().join(' | '));
    assert.equal(s.completed, s.placed);

    // A new spec is tried again.
    await kubectlOk(fleet.cluster, [
      'patch',
      '-n',
      agent.ns,
      'va',
      agent.name,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { image: GATEWAY_TEST_IMAGE, calls: { silenceTimeoutSeconds: 61 } } }),
    ]);
    await waitForReady(fleet.cluster, agent.ns, `voiceagent/${agent.name}`, 120_000);
    await agent.door.stop();
  });

  it('a release whose calls fail at once is rolled back; live calls on the old version are untouched', async () => {
    const t0 = performance.now();
    const agent = await startAgent('failing', { minCalls: 3, maxCallFailureRate: 0.2 });
    const live = new CallLoad(agent.target);
    await live.place({
      count: 6,
      minMs: 50_000,
      maxMs: 60_000,
      audio: 'dtmf',
      label: 'live on the old version',
    });

    await kubectlOk(fleet.cluster, [
      'patch',
      '-n',
      agent.ns,
      'va',
      agent.name,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { image: BAD_BACKEND } }),
    ]);
    // Short calls keep arriving; those nginx sends to the new pod fail.
    const probes = new CallLoad(agent.target);
    let rolledBack = false;
    const rollback = waitForRollback(agent.name, /calls failed on the new pods/).then((va) => {
      rolledBack = true;
      return va;
    });
    while (!rolledBack && performance.now() - t0 < 110_000) {
      void probes.place({ count: 1, minMs: 3000, maxMs: 3000, audio: 'dtmf', label: 'probe' });
      await Promise.race([rollback, new Promise((r) => setTimeout(r, 700))]);
    }
    const va = await rollback;
    assert.equal(va.status?.failedGeneration, va.metadata.generation);
    assert.equal(await deploymentImage(agent.name), GATEWAY_TEST_IMAGE);
    assert.ok(await rollbackEvent(agent.name));

    await live.settle(120_000);
    await probes.settle(60_000).catch(() => {});
    const s = live.summary();
    console.log(
      `[rollback] failing-calls release: ${live.line()}; probes: ${probes.line()} (wall ${((performance.now() - t0) / 1000).toFixed(1)} s)`,
    );
    assert.equal(s.cut, 0, live.failures().join(' | '));
    assert.equal(s.completed, s.placed);
    await agent.door.stop();
  });
});
