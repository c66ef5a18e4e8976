// `callfleet status voiceagent NAME -n NS`, run as a real process against the local control plane while a
// VoiceAgent rolls out (the real operator, the process kubelet, live calls through nginx): it shows the
// conditions, the pods with busy state and live calls, both ReplicaSets of the rollout, and after the
// operator rolls the stalled release back, the rollback and its event.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { V1Container } from '@kubernetes/client-node';
import {
  echoVoiceAgent,
  type OperatedFleet,
  patchVoiceAgent,
  startAgent,
  startOperatedFleet,
} from '../../e2e/agents.ts';
import { CallLoad } from '../../e2e/call-load.ts';
import { defaultImageCommands, GATEWAY_TEST_IMAGE } from '../../support/fleet.ts';
import { getObject } from '../../support/kube-helpers.ts';
import { waitFor } from '../../support/processes.ts';

const root = new URL('../../../', import.meta.url).pathname;
const AUTH_TOKEN = 'status-auth-token';
const NEVER_READY = `${GATEWAY_TEST_IMAGE.replace(/:.*$/, '')}:never-ready`;

function imageCommands(image: string, container: V1Container) {
  if (image === NEVER_READY)
    return { command: [process.execPath, '-e', 'setTimeout(() => process.exit(1), 300)'], cwd: root };
  return defaultImageCommands(image, container);
}

let fleet: OperatedFleet;

async function status(name: string, namespace: string, output = 'text'): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      join(root, 'bin/callfleet.ts'),
      'status',
      'voiceagent',
      name,
      '-n',
      namespace,
      `--kubeconfig=${fleet.cluster.kubeconfigPath}`,
      `--output=${output}`,
    ],
    { cwd: root, timeout: 30_000 },
  );
  return stdout;
}

interface Report {
  fleet: { desired: number; ready: number; busy: number; calls: number };
  conditions: { type: string; status: string; reason: string }[];
  pods: { name: string; state: string; calls?: number; template: string; phase: string }[];
  rollouts: { revision: number; template: string; notes: string[] }[];
  rollbacks: { message: string }[];
  events: { reason: string }[];
}

describe('callfleet status voiceagent [e2e]', { timeout: 600_000 }, () => {
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

  it('shows conditions, busy pods with their calls, the rollout in progress, then the rollback', async () => {
    const name = 'status';
    const va = echoVoiceAgent(name, {
      calls: { maxConcurrentPerPod: 50, maxDurationSeconds: 120, silenceTimeoutSeconds: 60 },
      drain: { gracePeriodSeconds: 150, preStopSeconds: 1 },
      replicas: 2,
      rollout: { progressDeadlineSeconds: 15 },
    });
    const agent = await startAgent(fleet, va, { authToken: AUTH_TOKEN });
    await waitFor(
      'the last good revision recorded',
      async () =>
        Boolean((await getObject(fleet.cluster, name, `voiceagent/${name}`))?.status?.lastGoodTemplate),
      30_000,
      250,
    );

    // Live calls make pods busy; the tracker marks them within a poll.
    const live = new CallLoad(agent.target);
    await live.place({ count: 4, minMs: 40_000, maxMs: 50_000, audio: 'dtmf', label: 'live' });
    let report: Report | undefined;
    await waitFor(
      'a busy pod with calls in the status',
      async () => {
        report = JSON.parse(await status(name, agent.ns, 'json')) as Report;
        // The marks and the status follow each pod's poll (spread over the interval), so the four calls
        // may show one pod at a time.
        return (
          report.pods.some((p) => p.state === 'busy' && (p.calls ?? 0) > 0) &&
          report.fleet.busy > 0 &&
          report.fleet.calls === 4
        );
      },
      30_000,
      500,
    );
    assert.equal(report?.fleet.desired, 2);
    assert.equal(report?.fleet.ready, 2);
    assert.equal(report?.fleet.calls, 4);

    // A release that never becomes ready: during the rollout there are two ReplicaSets and Progressing.
    await patchVoiceAgent(fleet, agent, { image: NEVER_READY });
    let during = '';
    await waitFor(
      'the rollout in progress in the status',
      async () => {
        report = JSON.parse(await status(name, agent.ns, 'json')) as Report;
        const progressing = report.conditions.find((c) => c.type === 'Progressing');
        return progressing?.status === 'True' && report.rollouts.length >= 2;
      },
      60_000,
      500,
    );
    during = await status(name, agent.ns);
    console.log(`--- callfleet status voiceagent during the rollout ---\n${during}`);
    assert.match(during, /^Name: +status$/m);
    assert.match(during, /Fleet: +desired 2, ready \d, busy \d, draining \d, live calls \d+/);
    assert.match(during, /^ {2}Progressing: True, Reason: RollingOut/m);
    assert.match(during, /^ {2}NAME +PHASE +READY +STATE +CALLS +TEMPLATE +NODE +AGE$/m);
    assert.match(during, /^ {2}status-\S+ +Running +true +busy +[1-9]/m);
    assert.match(during, /^ {2}REVISION +TEMPLATE +PODS +CREATED +NOTES$/m);
    assert.match(during, /^ {2}2 +\S+ +.*current$/m);
    assert.match(during, /^ {2}1 +\S+ +.*last good \(generation \d+\)$/m);
    assert.match(during, /https:\/\/\S+\/twilio\/voice/);

    // The operator rolls it back: the status shows the rollback, its cause and its event.
    let afterRollback = '';
    await waitFor(
      'the rollback in the status',
      async () => {
        afterRollback = await status(name, agent.ns);
        return /^Rollbacks:\n {2}\S+ ago: .*rolled back to the pod template of generation \d+/m.test(
          afterRollback,
        );
      },
      120_000,
      1000,
    );
    console.log(`--- callfleet status voiceagent after the rollback ---\n${afterRollback}`);
    assert.match(afterRollback, /^ {2}Degraded: True, Reason: RolloutFailed/m);
    assert.match(afterRollback, /rolled back \(generation \d+\)/);
    assert.match(afterRollback, /^ {2}\S+ +Warning +RolloutFailed +VoiceAgent\/status +/m);

    await live.settle(120_000);
    assert.equal(live.summary().cut, 0, live.failures().join(' | '));
    await agent.door.stop();
  });

  it('names a VoiceAgent that does not exist, and a missing name', async () => {
    await assert.rejects(status('nope', 'default'), (error: { stderr?: string; code?: number }) => {
      assert.match(error.stderr ?? '', /VoiceAgent default\/nope not found/);
      assert.equal(error.code, 1);
      return true;
    });
    await assert.rejects(
      promisify(execFile)(process.execPath, [join(root, 'bin/callfleet.ts'), 'status', 'voiceagent']),
      (error: { stderr?: string; code?: number }) => {
        assert.match(error.stderr ?? '', /a VoiceAgent name is required/);
        assert.equal(error.code, 2);
        return true;
      },
    );
  });
});
