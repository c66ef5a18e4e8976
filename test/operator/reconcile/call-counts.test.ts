// Call churn and VoiceAgent writes (issue 24): with --call-status-refresh off, a change of the call
// counts alone writes nothing (no status patch, no PodDisruptionBudget apply: the idle budget depends
// on the scale alone); the counts go with the next status change of another kind. With a refresh of
// N s they are written at most every N s; unset, at once.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { VOICEAGENT_LABEL } from '../../../cdk8s/charts/labels.ts';
import { resourceFor } from '../../../operator/kube/resources.ts';
import { StatusPacer } from '../../../operator/reconcile/status-pacing.ts';
import { Informer } from '../../../operator/runtime/informer.ts';
import { CallTracker } from '../../../operator/tracker/call-tracker.ts';
import {
  example,
  type Harness,
  harness,
  log,
  readyCondition,
  reconcileAgent,
  reportDeployment,
  secret,
} from './harness.ts';

const KEY = 'team/echo';
const PODS = ['echo-a', 'echo-b', 'echo-c'];

describe('VoiceAgent writes under call churn', () => {
  let h: Harness;
  let pods: Informer<V1Pod>;
  let tracker: CallTracker;
  let now = 0;

  beforeEach(async () => {
    h = await harness();
    now = 0;
    h.ctx.statusPacer = new StatusPacer(5000, () => now);
    pods = new Informer<V1Pod>(h.kube.rest, { resource: resourceFor('v1', 'Pod') }, log);
    await pods.start();
    tracker = new CallTracker({ rest: h.kube.rest, pods, log, onChange: () => undefined });
    h.ctx.tracker = tracker;
  });
  afterEach(async () => {
    await tracker.stop();
    await pods.stop();
    await h.stop();
  });

  /** Writes the operator made for the VoiceAgent and its children (pod marks left out). */
  const agentWrites = () => h.kube.writes().filter((c) => !c.path.includes('/pods/'));
  const va = () => h.kube.find('voiceagents', 'team', 'echo');
  const status = () =>
    va()?.status as { activeCalls?: number; busyReplicas?: number; readyReplicas?: number };
  const idleBudget = () =>
    (h.kube.find('poddisruptionbudgets', 'team', 'echo') as { spec?: Record<string, unknown> } | undefined)
      ?.spec;
  const reconcile = () => reconcileAgent(h, KEY);
  const deploymentReports = (available: number) => reportDeployment(h, available);
  async function readyFleet() {
    h.kube.put(secret('twilio', ['account-sid', 'auth-token']));
    const doc = example('voiceagent-echo.yaml');
    h.kube.put({ ...doc, metadata: { ...doc.metadata, uid: 'va-uid' }, spec: { ...doc.spec, replicas: 3 } });
    for (const [i, name] of PODS.entries()) {
      h.kube.put({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: 'team', labels: { [VOICEAGENT_LABEL]: 'echo' } },
        status: {
          phase: 'Running',
          podIP: `10.0.0.${i + 1}`,
          conditions: [{ type: 'Ready', status: 'True' }],
        },
      } as KubernetesObject);
    }
    await reconcile();
    deploymentReports(3);
    await reconcile();
    assert.equal(readyCondition(va())?.status, 'True');
  }
  /** A call starts on pod `i` (its gateway's notice). */
  const callOn = (i: number, calls: number) =>
    tracker.applyEdge(`team/${PODS[i]}`, { activeCalls: calls, connectingCalls: 0, draining: false });

  test('refresh off: call counts alone write nothing; they go with the next change of another kind', async () => {
    h.ctx.callStatusRefreshMs = 0;
    await readyFleet();
    assert.deepEqual(idleBudget()?.maxUnavailable, 2, 'sized from the scale: 3 - 1');
    const before = agentWrites().length;

    for (const [i, calls] of [
      [0, 1],
      [1, 1],
      [0, 2],
      [1, 0],
      [2, 1],
    ] as const) {
      now += 60_000;
      await callOn(i, calls);
      await reconcile();
    }
    assert.deepEqual(
      agentWrites()
        .slice(before)
        .map((c) => `${c.verb} ${c.path}`),
      [],
      'no VoiceAgent or child write under call churn',
    );
    assert.equal(status().activeCalls, 0, 'the counts wait');
    assert.equal(idleBudget()?.maxUnavailable, 2);

    deploymentReports(2); // a pod count changes: the status is written, with the calls of now
    await reconcile();
    assert.equal(status().readyReplicas, 2);
    assert.equal(status().activeCalls, 3);
    assert.equal(status().busyReplicas, 2);
  });

  test('refresh every 30 s: at most one count write per 30 s; unset: each change at once', async () => {
    h.ctx.callStatusRefreshMs = 30_000;
    await readyFleet();
    const statusWrites = () =>
      h.kube.writes().filter((c) => c.path.endsWith('/voiceagents/echo/status')).length;
    const first = statusWrites();

    now += 30_000;
    await callOn(0, 1);
    await reconcile();
    assert.equal(statusWrites(), first + 1, 'the first change after a quiet window: at once');
    assert.equal(status().activeCalls, 1);

    now += 1000;
    await callOn(1, 1);
    const held = await reconcile();
    assert.equal(statusWrites(), first + 1, 'within 30 s: held');
    assert.ok((held?.requeueAfterMs ?? 0) <= 29_000, 'looked at again by the time the window ends');
    now += 28_000;
    await reconcile();
    assert.equal(statusWrites(), first + 1, 'still within 30 s');
    now += 1000;
    await reconcile();
    assert.equal(statusWrites(), first + 2);
    assert.equal(status().activeCalls, 2);

    h.ctx.callStatusRefreshMs = undefined;
    now += 10;
    await callOn(2, 1);
    await reconcile();
    assert.equal(statusWrites(), first + 3, 'unset: at once');
    assert.equal(status().activeCalls, 3);
  });
});
