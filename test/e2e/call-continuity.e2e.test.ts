// Issue 7, call continuity, end to end with real processes: the real operator reconciles each
// VoiceAgent (CR + Twilio Secret applied, nothing else), the process kubelet runs the gateway pods,
// nginx is the front door, the Twilio simulator places the calls. No live call may be cut by a
// rolling update, a scale-down or a node drain; a SIGKILLed gateway loses exactly its own calls.
// Each scenario prints `calls: N placed, N completed, 0 cut` and its wall time.
//
// CONTINUITY_CALLS sets the rollout's live calls (default 100, the issue's number);
// CONTINUITY_AUDIO=dtmf sends no media frames (a DTMF key every 5 s) instead of 50 frames/s.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { kubectlOk, waitForReady } from '../support/kube-helpers.ts';
import { freePort } from '../support/ports.ts';
import { waitFor } from '../support/processes.ts';
import {
  type Agent,
  echoVoiceAgent,
  type OperatedFleet,
  patchVoiceAgent,
  reportLine,
  secondsSince,
  startAgent,
  startOperatedFleet,
  stopAgent,
} from './agents.ts';
import { CallLoad, type LoadOptions } from './call-load.ts';
import { isLive, isPodReady, PodWatch } from './gateway-pods.ts';

const ROLLOUT_CALLS = Number(process.env.CONTINUITY_CALLS ?? 100);
const AUDIO = (process.env.CONTINUITY_AUDIO ?? 'speech') as LoadOptions['audio'];
const AUTH_TOKEN = 'continuity-auth-token';
const BUSY = 'callfleet.io/busy';
const SERVING = 'callfleet.io/serving';
const SAFE_TO_EVICT = 'cluster-autoscaler.kubernetes.io/safe-to-evict';
const DO_NOT_DISRUPT = 'karpenter.sh/do-not-disrupt';

/**
 * Busy pods tell every autoscaler to keep their node (safe-to-evict "false" and karpenter.sh/do-not-disrupt
 * "true"); idle pods carry neither block (no do-not-disrupt; safe-to-evict "true" for the emptyDir).
 * The marks follow the gateways' notices (ADR 0021); this waits up to `timeoutMs` until every running pod agrees.
 */
async function assertDisruptionMarks(
  agent: Agent,
  what: string,
  timeoutMs = 30_000,
): Promise<{ busy: number; idle: number }> {
  let seen = { busy: 0, idle: 0 };
  let last = '';
  await waitFor(
    `${what}: busy pods carry both autoscaler annotations, idle pods neither (${last})`,
    async () => {
      const pods = (await agent.pods.list()).filter((p) => isLive(p) && !p.metadata?.deletionTimestamp);
      const calls = await agent.pods.calls(pods);
      seen = { busy: 0, idle: 0 };
      const wrong: string[] = [];
      for (const pod of pods) {
        const name = pod.metadata?.name ?? '';
        const a = pod.metadata?.annotations ?? {};
        const busy = (calls.get(name) ?? 0) > 0;
        seen[busy ? 'busy' : 'idle']++;
        const ok = busy
          ? a[SAFE_TO_EVICT] === 'false' && a[DO_NOT_DISRUPT] === 'true'
          : a[SAFE_TO_EVICT] !== 'false' && a[DO_NOT_DISRUPT] === undefined;
        if (!ok)
          wrong.push(`${name} (${calls.get(name) ?? 0} calls): ${a[SAFE_TO_EVICT]}/${a[DO_NOT_DISRUPT]}`);
      }
      last = wrong.join(', ');
      return wrong.length === 0;
    },
    timeoutMs,
    250,
  );
  return seen;
}

let fleet: OperatedFleet;

/** An echo fleet of `replicas` gateways; the operator does the rest, nginx is in front. */
async function withAgent(name: string, replicas: number, body: (agent: Agent) => Promise<void>) {
  const va = echoVoiceAgent(name, {
    // Longest call of any scenario is 75 s: maxDuration 120 never ends one, the grace period
    // (≥ maxDuration) outlasts every drain.
    calls: { maxConcurrentPerPod: 150, maxDurationSeconds: 120, silenceTimeoutSeconds: 30 },
    drain: { gracePeriodSeconds: 150, preStopSeconds: 3 },
    replicas,
  });
  const agent = await startAgent(fleet, va, { authToken: AUTH_TOKEN });
  try {
    await body(agent);
  } finally {
    // Idle gateways exit at once on SIGTERM; wait so the next scenario has the CPU.
    await stopAgent(fleet, agent, 60_000);
  }
}

/** The scenario's live calls, each of them answered. */
async function placeLiveCalls(
  agent: Agent,
  shape: Pick<LoadOptions, 'count' | 'minMs' | 'maxMs' | 'rampMs'>,
): Promise<CallLoad> {
  const load = new CallLoad(agent.target);
  await load.place({ ...shape, audio: AUDIO, label: 'live' });
  assert.equal(load.summary().unanswered, 0, load.failures().join(' | '));
  return load;
}

function report(scenario: string, load: CallLoad, startedAt: number, extra = ''): void {
  console.log(reportLine('continuity', scenario, load.line(), startedAt, extra));
}

function assertNoCut(load: CallLoad): void {
  const s = load.summary();
  assert.equal(s.cut, 0, `${load.line()}: ${load.failures().join(' | ')}`);
  assert.equal(s.unanswered, 0, `${load.line()}: ${load.failures().join(' | ')}`);
  assert.equal(s.completed, s.placed, load.line());
}

const byName = (pods: V1Pod[]) => new Map(pods.map((p) => [p.metadata?.name ?? '', p]));

describe('call continuity [e2e, issue 7]', { timeout: 900_000 }, () => {
  before(async () => {
    // The operator link (ADR 0021): gateways report their busy/idle edges at once; no waiting for a poll.
    const noticePort = await freePort();
    fleet = await startOperatedFleet({
      processNodes: 3,
      restartBackoffMs: 1000,
      operatorArgs: [
        `--notice-addr=127.0.0.1:${noticePort}`,
        `--notice-url=http://127.0.0.1:${noticePort}/notices`,
        // status.activeCalls (the call count, not an edge) follows every poll, as this suite was written for.
        '--call-poll=5',
        '--call-status-refresh=0',
      ],
    });
  });

  after(async () => {
    await fleet?.stop();
  });

  it(`rolling update of a 4-pod fleet carrying ${ROLLOUT_CALLS} live calls of 30–60 s: 0 cut, new calls answered`, () =>
    withAgent('rollout', 4, async (agent) => {
      const t0 = performance.now();
      const load = new CallLoad(agent.target);
      await load.place({
        count: ROLLOUT_CALLS,
        minMs: 30_000,
        maxMs: 60_000,
        rampMs: 5000,
        audio: AUDIO,
        label: 'live',
      });
      assert.equal(load.summary().unanswered, 0, `all live calls answered: ${load.failures().join(' | ')}`);
      const perPod = await agent.pods.calls();
      const oldPods = [...perPod.keys()];
      console.log(
        `[continuity] rollout: calls per pod before the rollout ${JSON.stringify(Object.fromEntries(perPod))}`,
      );

      // A config change (the ConfigMap checksum on the pod template) rolls the Deployment.
      const generationBefore = (await agent.pods.deployment()).metadata?.generation ?? 0;
      const rolloutAt = performance.now();
      await patchVoiceAgent(fleet, agent, { calls: { silenceTimeoutSeconds: 31 } });
      const during = (async () => {
        let rolledOut = false;
        const newCalls: Promise<unknown>[] = [];
        const watch = (async () => {
          await waitFor(
            'the Deployment rolled out (4 updated, available replicas)',
            async () => {
              const d = await agent.pods.deployment();
              const s = d.status;
              return (
                (s?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
                (d.metadata?.generation ?? 0) > generationBefore &&
                s?.updatedReplicas === 4 &&
                s.replicas === 4 &&
                s.availableReplicas === 4
              );
            },
            120_000,
            250,
          );
          rolledOut = true;
        })();
        while (!rolledOut) {
          newCalls.push(
            load.place({ count: 1, minMs: 10_000, maxMs: 10_000, audio: AUDIO, label: 'during rollout' }),
          );
          await Promise.race([watch, new Promise((r) => setTimeout(r, 1000))]);
        }
        await watch;
        await Promise.all(newCalls);
      })();
      await during;
      const rolloutSeconds = secondsSince(rolloutAt);
      await waitForReady(fleet.cluster, agent.ns, `voiceagent/${agent.name}`, 60_000);
      // The old pods drain: each exits when its last call has ended.
      await waitFor(
        'every old pod gone after its calls ended',
        async () => !(await agent.pods.list()).some((p) => oldPods.includes(p.metadata?.name ?? '')),
        120_000,
        500,
      );
      const drainedSeconds = secondsSince(rolloutAt);
      await load.settle(90_000);
      const newOnes = load.summary((t) => t.label === 'during rollout');
      report(
        'rolling update',
        load,
        t0,
        `rollout (4 new pods available) ${rolloutSeconds} s, old pods drained and gone ${drainedSeconds} s after the change; new calls during the rollout: ${newOnes.placed} placed, ${newOnes.completed} completed`,
      );
      assert.ok(newOnes.placed > 0, 'new calls were placed during the rollout');
      assertNoCut(load);
      for (const name of oldPods) {
        const exit = fleet.kubelet.events.find((e) => e.pod === `${agent.ns}/${name}` && e.type === 'exited');
        assert.ok(exit, `${name} exited`);
        assert.match(String(exit.detail), /code=0 /, `${name} exited 0 after draining: ${exit.detail}`);
      }
    }));

  it('a gateway killed with SIGKILL: exactly its calls are lost, the others are unaffected, the fleet recovers', () =>
    withAgent('sigkill', 3, async (agent) => {
      const t0 = performance.now();
      const load = await placeLiveCalls(agent, { count: 30, minMs: 30_000, maxMs: 45_000, rampMs: 3000 });
      const pods = (await agent.pods.list()).filter(isLive);
      const perPod = await agent.pods.calls(pods);
      const [victimName, victimCalls] = [...perPod.entries()].sort((a, b) => b[1] - a[1])[0] ?? ['', 0];
      assert.ok(victimCalls > 0, `a busy pod to kill: ${JSON.stringify(Object.fromEntries(perPod))}`);
      const proc = fleet.kubelet.processesOf(agent.ns, victimName).get('gateway');
      assert.ok(proc, `gateway process of ${victimName}`);
      const killedAt = Date.now();
      proc.child.kill('SIGKILL');

      await waitFor(
        'the killed gateway restarted and Ready, back in nginx',
        async () => {
          const pod = byName(await agent.pods.list()).get(victimName);
          return pod?.status?.containerStatuses?.[0]?.restartCount === 1 && isPodReady(pod);
        },
        60_000,
        250,
      );
      const recoveredMs = Date.now() - killedAt;
      await agent.door.waitForServers(`${agent.name}-streams`, (s) => s.length === 3, 30_000);
      const after = await load.place({
        count: 10,
        minMs: 5000,
        maxMs: 8000,
        rampMs: 1000,
        audio: AUDIO,
        label: 'after recovery',
      });
      assert.equal(after.length, 10);
      await load.settle(90_000);

      const cut = load.calls.filter((t) => t.result?.kind === 'stream' && t.result.endedBy !== 'caller');
      const s = load.summary();
      report(
        'SIGKILL',
        load,
        t0,
        `${victimCalls} calls on the killed gateway ${victimName}, lost as expected; restarted and Ready ${recoveredMs} ms after the kill`,
      );
      assert.equal(s.unanswered, 0, load.failures().join(' | '));
      assert.equal(
        s.cut,
        victimCalls,
        `exactly the killed gateway's calls are lost: ${load.failures().join(' | ')}`,
      );
      for (const t of cut) {
        const endedAt = t.placedAt + (t.result?.durationMs ?? 0);
        assert.ok(
          Math.abs(endedAt - killedAt) < 5000,
          `a lost call ended at the kill (${endedAt - killedAt} ms after it)`,
        );
      }
      assert.equal(s.completed, s.placed - victimCalls, 'every other call ended by its own hang-up');
      assert.equal(
        load.summary((t) => t.label === 'after recovery').completed,
        10,
        'calls after the recovery',
      );
    }));

  it('scale-down from 6 to 2 with 40 live calls spread unevenly: only idle pods are removed, 0 cut', () =>
    withAgent('scaledown', 3, async (agent) => {
      const t0 = performance.now();
      const load = new CallLoad(agent.target);
      // Uneven on purpose: 26 calls land on the first 3 pods, then 14 over all 6.
      await load.place({
        count: 26,
        minMs: 20_000,
        maxMs: 75_000,
        rampMs: 3000,
        audio: AUDIO,
        label: 'first wave',
      });
      await patchVoiceAgent(fleet, agent, { replicas: 6 });
      await agent.door.waitForServers(`${agent.name}-streams`, (s) => s.length === 6, 60_000);
      await load.place({
        count: 14,
        minMs: 20_000,
        maxMs: 60_000,
        rampMs: 2000,
        audio: AUDIO,
        label: 'second wave',
      });
      assert.equal(load.summary().unanswered, 0, load.failures().join(' | '));
      const perPod = await agent.pods.calls();
      const spread = JSON.stringify(Object.fromEntries(perPod));
      console.log(`[continuity] scale-down: calls per pod at 6 replicas ${spread}`);
      // The call tracker aggregates the fleet's live calls on the VoiceAgent status: as of its last poll
      // (5 s here; calls end about every second), so the status is the pods' sum of a moment ago.
      const sums: { at: number; sum: number }[] = [];
      await waitFor(
        "VoiceAgent status.activeCalls = the pods' live calls as of the last poll",
        async () => {
          const va = JSON.parse(
            await kubectlOk(fleet.cluster, ['get', '-n', agent.ns, 'va', agent.name, '-o', 'json']),
          ) as { status?: { activeCalls?: number } };
          const sum = [...(await agent.pods.calls()).values()].reduce((a, b) => a + b, 0);
          sums.push({ at: Date.now(), sum });
          // Calls only end in this phase: the sum at the tracker's last poll lies between the sums seen
          // over the last poll interval and reconcile (12 s on this loaded machine).
          const recent = sums.filter((s) => Date.now() - s.at <= 12_000).map((s) => s.sum);
          const calls = va.status?.activeCalls;
          return calls !== undefined && calls >= Math.min(...recent) && calls <= Math.max(...recent);
        },
        20_000,
        500,
      );

      const watch = new PodWatch(agent.pods);
      const scaleAt = performance.now();
      await patchVoiceAgent(fleet, agent, { replicas: 2 });
      try {
        await waitFor(
          'the fleet down to 2 pods',
          async () => {
            const pods = await agent.pods.list();
            const d = await agent.pods.deployment();
            return (
              pods.length === 2 && pods.every((p) => isLive(p) && isPodReady(p)) && d.spec?.replicas === 2
            );
          },
          120_000,
          500,
        );
      } finally {
        await watch.stop();
      }
      const scaleSeconds = secondsSince(scaleAt);
      await load.settle(90_000);
      const removed = [...watch.deleted.values()];
      const busyRemoved = removed.filter((d) => (d.callsAtDeletion ?? 0) > 0);
      report(
        'scale-down 6→2',
        load,
        t0,
        `down to 2 pods ${scaleSeconds} s after the change; Deployment replicas ${watch.replicaSteps.join('→')}; removed ${removed.map((d) => `${d.name}(${d.callsAtDeletion ?? '?'} calls)`).join(', ')}`,
      );
      assert.equal(removed.length, 4, 'four pods removed');
      assert.deepEqual(
        busyRemoved.map(
          (d) =>
            `${d.name}: ${d.callsAtDeletion} calls, pod-deletion-cost ${d.annotations['controller.kubernetes.io/pod-deletion-cost']}, busy=${d.labels[BUSY]}`,
        ),
        [],
        'only idle pods are removed (a pod with live calls was deleted)',
      );
      assertNoCut(load);
    }));

  it('kubectl drain of a node with busy pods: eviction waits, no new calls there, completes when the calls end; 0 cut', () =>
    withAgent('drain', 4, async (agent) => {
      const t0 = performance.now();
      const load = await placeLiveCalls(agent, { count: 24, minMs: 30_000, maxMs: 55_000, rampMs: 3000 });
      const pods = (await agent.pods.list()).filter(isLive);
      const perPod = await agent.pods.calls(pods);
      const busyByNode = new Map<string, string[]>();
      for (const p of pods) {
        const name = p.metadata?.name ?? '';
        if ((perPod.get(name) ?? 0) > 0) {
          const node = p.spec?.nodeName ?? '';
          busyByNode.set(node, [...(busyByNode.get(node) ?? []), name]);
        }
      }
      const [node, busyPods] = [...busyByNode.entries()].sort((a, b) => b[1].length - a[1].length)[0] ?? [
        '',
        [],
      ];
      assert.ok(node, 'a node with busy pods');
      const callsThere = busyPods.reduce((n, p) => n + (perPod.get(p) ?? 0), 0);
      console.log(
        `[continuity] drain: ${node} carries ${busyPods.join(', ')} with ${callsThere} calls; per pod ${JSON.stringify(Object.fromEntries(perPod))}`,
      );

      // No waiting for the marks: each gateway told the operator when it went busy (ADR 0021), so the
      // drain starts right after the calls were placed.
      // Within 3 s of the last call's placement (a poll would need up to 5 s more): the notices marked them.
      const marked = await assertDisruptionMarks(agent, 'before the drain', 3000);
      assert.ok(marked.busy > 0, 'busy pods to check');
      const watch = new PodWatch(agent.pods);
      const drain = fleet.cluster.kubectl([
        'drain',
        node,
        '--ignore-daemonsets',
        '--delete-emptydir-data',
        '--timeout=180s',
      ]);
      let drainDoneAt = 0;
      void drain.then(() => {
        drainDoneAt = Date.now();
      });
      const drainStartedAt = Date.now();
      try {
        // The busy pods on the cordoned node leave the Services' endpoints but keep running.
        await waitFor(
          'busy pods on the cordoned node out of the endpoints (serving=false)',
          async () => {
            const live = byName(await agent.pods.list());
            return busyPods.every((name) => live.get(name)?.metadata?.labels?.[SERVING] === 'false');
          },
          30_000,
          250,
        );
        const ips = busyPods.map((n) => watch.last.get(n)?.pod.status?.podIP ?? '');
        await agent.door.waitForServers(
          `${agent.name}-streams`,
          (s) => !s.some((x) => ips.some((ip) => ip && x.startsWith(`${ip}:`))),
          30_000,
        );
        watch.markFrom();
        const busyNow = await agent.pods.calls(
          (await agent.pods.list()).filter((p) => busyPods.includes(p.metadata?.name ?? '')),
        );
        const during = await load.place({
          // Long enough to keep the pods on the other nodes busy after the drained node's calls ended.
          count: 12,
          minMs: 60_000,
          maxMs: 70_000,
          rampMs: 6000,
          audio: AUDIO,
          label: 'during drain',
        });
        assert.equal(during.length, 12);
        // A pod that still carries calls is still running and labelled busy (the eviction waits for
        // it); one whose calls have all ended by now may rightly be idle or already evicted (that it
        // left with 0 calls is checked below).
        const live = byName(await agent.pods.list());
        const callsNow = await agent.pods.calls(
          [...live.values()].filter((p) => busyPods.includes(p.metadata?.name ?? '')),
        );
        assert.ok(
          busyPods.some((name) => (callsNow.get(name) ?? 0) > 0),
          'the drained node still carries calls while the new calls are placed',
        );
        for (const name of busyPods) {
          if ((callsNow.get(name) ?? 0) === 0) continue;
          assert.equal(
            live.get(name)?.metadata?.labels?.[BUSY],
            'true',
            `${name} carries calls and is labelled busy`,
          );
        }
        for (const name of busyPods) {
          const peak = watch.peak.get(name) ?? 0;
          assert.ok(
            peak <= (busyNow.get(name) ?? 0),
            `${name} received no new call during the drain (${peak} > ${busyNow.get(name)})`,
          );
        }
      } finally {
        const result = await drain;
        await watch.stop();
        await kubectlOk(fleet.cluster, ['uncordon', node]);
        assert.equal(result.code, 0, `kubectl drain: ${result.stderr.slice(-2000)}`);
      }
      await load.settle(90_000);
      // Every call has ended: no pod may keep its node from any autoscaler any more.
      const after = await assertDisruptionMarks(agent, 'after the calls');
      assert.equal(after.busy, 0);
      assert.ok(after.idle > 0, 'idle pods to check');
      const drainSeconds = ((drainDoneAt - drainStartedAt) / 1000).toFixed(1);
      // When the drained node's last busy pod went idle, and how long the drain took after that.
      const lastIdle = Math.max(...busyPods.map((n) => watch.idleAt.get(n) ?? Number.NaN));
      const lagSeconds = ((drainDoneAt - lastIdle) / 1000).toFixed(1);
      const idleSeconds = ((lastIdle - drainStartedAt) / 1000).toFixed(1);
      const during = load.summary((t) => t.label === 'during drain');
      report(
        'node drain',
        load,
        t0,
        `kubectl drain ${node} took ${drainSeconds} s; its busy pods were idle after ${idleSeconds} s, the drain completed ${lagSeconds} s later (busy pods ${busyPods.join(', ')} with ${callsThere} calls); new calls during the drain: ${during.placed} placed, ${during.completed} completed; evicted ${[...watch.deleted.values()].map((d) => `${d.name}(${d.callsAtDeletion ?? '?'} calls)`).join(', ')}`,
      );
      assert.ok(
        drainDoneAt - lastIdle < 30_000,
        `the drain completes when the drained node's calls end (it took ${lagSeconds} s more); PDBs: ${watch.pdbTimeline.join(' | ')}`,
      );
      const busyEvicted = [...watch.deleted.values()].filter((d) => (d.callsAtDeletion ?? 0) > 0);
      assert.deepEqual(
        busyEvicted.map((d) => d.name),
        [],
        'no pod was evicted while it carried calls',
      );
      assertNoCut(load);
    }));
});
