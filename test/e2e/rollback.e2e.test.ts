// Issue 11, automatic rollback, end to end: the real operator, the process kubelet and nginx. A release
// whose gateways never become ready, and one whose calls fail at once, are each rolled back to the last
// good revision; the VoiceAgent shows Degraded/RolloutFailed with the cause; live calls on the old
// version are untouched; the failed generation is not retried until the spec changes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { V1Container, V1Deployment } from '@kubernetes/client-node';
import { defaultImageCommands, GATEWAY_TEST_IMAGE } from '../support/fleet.ts';
import { getObject, type KObject, kubectlOk, waitForReady } from '../support/kube-helpers.ts';
import { waitFor } from '../support/processes.ts';
import {
  type Agent,
  echoVoiceAgent,
  type OperatedFleet,
  patchVoiceAgent,
  reportLine,
  startAgent,
  startOperatedFleet,
} from './agents.ts';
import { CallLoad } from './call-load.ts';

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

let fleet: OperatedFleet;

/** Two echo gateways with the given rollout policy, once their template is recorded as the last good one. */
async function startRolloutAgent(name: string, rollout: Record<string, unknown>): Promise<Agent> {
  const va = echoVoiceAgent(name, {
    calls: { maxConcurrentPerPod: 50, maxDurationSeconds: 120, silenceTimeoutSeconds: 60 },
    drain: { gracePeriodSeconds: 150, preStopSeconds: 1 },
    replicas: 2,
    rollout,
  });
  const agent = await startAgent(fleet, va, { authToken: AUTH_TOKEN });
  await waitFor(
    'the last good revision recorded',
    async () => Boolean((await getVa(name)).status?.lastGoodTemplate),
    30_000,
    250,
  );
  return agent;
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

/** The scenario's live calls on the old version: 6 DTMF calls of minMs–maxMs. */
async function placeLiveCalls(agent: Agent, minMs: number, maxMs: number): Promise<CallLoad> {
  const live = new CallLoad(agent.target);
  await live.place({ count: 6, minMs, maxMs, audio: 'dtmf', label: 'live on the old version' });
  return live;
}

/**
 * Rolls out `image` and expects it rolled back: Degraded/RolloutFailed naming `cause`, the failed
 * generation recorded, the last good pod template restored, a RolloutFailed Event. `whileWaiting` runs
 * while the rollback is pending.
 */
async function expectRolledBack(
  agent: Agent,
  image: string,
  cause: RegExp,
  whileWaiting?: (rollback: Promise<KObject>) => Promise<void>,
): Promise<void> {
  await patchVoiceAgent(fleet, agent, { image });
  const rollback = waitForRollback(agent.name, cause);
  rollback.catch(() => {}); // awaited below; not unhandled if whileWaiting throws first
  await whileWaiting?.(rollback);
  const va = await rollback;
  assert.equal(va.status?.failedGeneration, va.metadata.generation);
  assert.equal(
    await deploymentImage(agent.name),
    GATEWAY_TEST_IMAGE,
    'the pod template is the last good one again',
  );
  assert.ok(await rollbackEvent(agent.name), 'a RolloutFailed Event was recorded');
}

describe('automatic rollback [e2e, issue 11]', { timeout: 600_000 }, () => {
  before(async () => {
    fleet = await startOperatedFleet({
      processNodes: 2,
      restartBackoffMs: 1000,
      imageCommands,
      operatorArgs: ['--call-poll=1'],
    });
  });

  after(async () => {
    await fleet?.stop();
  });

  it('a release whose gateways never become ready is rolled back; live calls are untouched', async () => {
    const t0 = performance.now();
    const agent = await startRolloutAgent('stall', { progressDeadlineSeconds: 15 });
    const live = await placeLiveCalls(agent, 40_000, 50_000);

    await expectRolledBack(agent, NEVER_READY, /did not become ready/);

    // Not retried while the spec stays the same.
    await new Promise((r) => setTimeout(r, 10_000));
    assert.equal(await deploymentImage(agent.name), GATEWAY_TEST_IMAGE);

    await live.settle(120_000);
    const s = live.summary();
    console.log(reportLine('rollback', 'never-ready release', live.line(), t0));
    assert.equal(s.cut, 0, live.failures().join(' | '));
    assert.equal(s.completed, s.placed);

    // A new spec is tried again.
    await patchVoiceAgent(fleet, agent, { image: GATEWAY_TEST_IMAGE, calls: { silenceTimeoutSeconds: 61 } });
    await waitForReady(fleet.cluster, agent.ns, `voiceagent/${agent.name}`, 120_000);
    await agent.door.stop();
  });

  it('a release whose calls fail at once is rolled back; live calls on the old version are untouched', async () => {
    const t0 = performance.now();
    const agent = await startRolloutAgent('failing', { minCalls: 3, maxCallFailureRate: 0.2 });
    const live = await placeLiveCalls(agent, 50_000, 60_000);

    // Short calls keep arriving; those nginx sends to the new pod fail.
    const probes = new CallLoad(agent.target);
    await expectRolledBack(agent, BAD_BACKEND, /calls failed on the new pods/, async (rollback) => {
      let rolledBack = false;
      rollback.then(
        () => {
          rolledBack = true;
        },
        () => {},
      );
      while (!rolledBack && performance.now() - t0 < 110_000) {
        void probes.place({ count: 1, minMs: 3000, maxMs: 3000, audio: 'dtmf', label: 'probe' });
        await Promise.race([rollback, new Promise((r) => setTimeout(r, 700))]);
      }
    });

    await live.settle(120_000);
    await probes.settle(60_000).catch(() => {});
    const s = live.summary();
    console.log(
      reportLine('rollback', 'failing-calls release', `${live.line()}; probes: ${probes.line()}`, t0),
    );
    assert.equal(s.cut, 0, live.failures().join(' | '));
    assert.equal(s.completed, s.placed);
    await agent.door.stop();
  });
});
