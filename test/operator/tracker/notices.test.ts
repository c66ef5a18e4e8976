// The operator's end of the operator link (ADR 0021): a notice marks its pod at once, and only when
// signed with the link key of the VoiceAgent that pod belongs to; replays, old or reordered notices and
// tampered bodies change nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import pino from 'pino';
import { resourceFor } from '../../../operator/kube/resources.ts';
import { Informer } from '../../../operator/runtime/informer.ts';
import { CallTracker } from '../../../operator/tracker/call-tracker.ts';
import { NoticeReceiver, type NoticeResult } from '../../../operator/tracker/notices.ts';
import { linkKey, NOTICE_CONTEXT, signLink } from '../../../voice-gateway/operator-link.ts';
import { FakeKube } from '../fake-kube.ts';

const log = pino({ level: 'silent' });
const KEYS = {
  a: linkKey('stream-key-of-fleet-a-0123456789abcdef'),
  b: linkKey('stream-key-of-fleet-b-0123456789abcdef'),
};

function pod(name: string, voiceAgent: string): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'team', labels: { 'callfleet.io/voiceagent': voiceAgent } },
    spec: { containers: [{ name: 'gateway' }] },
    status: { phase: 'Running', podIP: '127.0.0.1' },
  };
}

async function setup() {
  const kube = new FakeKube();
  kube.put(pod('a-1', 'a') as KubernetesObject);
  kube.put(pod('b-1', 'b') as KubernetesObject);
  const pods = new Informer<V1Pod>(kube.rest, { resource: resourceFor('v1', 'Pod') }, log);
  await pods.start();
  const changed: string[] = [];
  const tracker = new CallTracker({ rest: kube.rest, pods, log, onChange: (key) => changed.push(key) });
  const results: NoticeResult[] = [];
  const receiver = new NoticeReceiver({
    tracker,
    pods,
    keys: (_ns, va) => KEYS[va as 'a' | 'b'],
    log,
    onNotice: (r) => results.push(r),
  });
  return { kube, pods, receiver, changed, results, stop: () => pods.stop() };
}

let seq = 0;
function notice(podName: string, activeCalls: number, extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    namespace: 'team',
    pod: podName,
    activeCalls,
    connectingCalls: 0,
    draining: false,
    epoch: 1000,
    seq: ++seq,
    sentAt: Date.now(),
    ...extra,
  });
}
const busyLabel = (kube: FakeKube, name: string) =>
  kube.find('pods', 'team', name)?.metadata?.labels?.['callfleet.io/busy'];

test('a signed busy notice marks its pod at once (one write), and its fleet is told', async () => {
  const t = await setup();
  try {
    const body = notice('a-1', 2);
    const t0 = performance.now();
    assert.equal(await t.receiver.receive(body, signLink(KEYS.a, NOTICE_CONTEXT, body)), 'applied');
    assert.ok(performance.now() - t0 < 100, 'marked within milliseconds');
    assert.equal(busyLabel(t.kube, 'a-1'), 'true');
    assert.equal(
      t.kube.find('pods', 'team', 'a-1')?.metadata?.annotations?.[
        'controller.kubernetes.io/pod-deletion-cost'
      ],
      '2',
    );
    assert.deepEqual(t.changed, ['team/a']);
  } finally {
    await t.stop();
  }
});

test("a gateway of fleet a cannot mark fleet b's pods; unknown pods and tampered bodies are refused", async () => {
  const t = await setup();
  try {
    const forB = notice('b-1', 1);
    assert.equal(await t.receiver.receive(forB, signLink(KEYS.a, NOTICE_CONTEXT, forB)), 'forbidden');
    assert.equal(busyLabel(t.kube, 'b-1'), undefined, 'fleet b untouched');
    const ghost = notice('nope', 1);
    assert.equal(await t.receiver.receive(ghost, signLink(KEYS.a, NOTICE_CONTEXT, ghost)), 'unknown_pod');
    const signed = notice('a-1', 0);
    const tampered = signed.replace('"activeCalls":0', '"activeCalls":9');
    assert.equal(await t.receiver.receive(tampered, signLink(KEYS.a, NOTICE_CONTEXT, signed)), 'forbidden');
    assert.equal(await t.receiver.receive(signed, undefined), 'forbidden');
    // A retire request's MAC is not a notice's (contexts differ).
    assert.equal(
      await t.receiver.receive(signed, signLink(KEYS.a, 'callfleet-retire.v1.', signed)),
      'forbidden',
    );
    assert.equal(busyLabel(t.kube, 'a-1'), undefined);
  } finally {
    await t.stop();
  }
});

test('replayed, reordered and stale notices change nothing', async () => {
  const t = await setup();
  try {
    const busy = notice('a-1', 1);
    const idle = notice('a-1', 0);
    assert.equal(await t.receiver.receive(idle, signLink(KEYS.a, NOTICE_CONTEXT, idle)), 'applied');
    assert.equal(busyLabel(t.kube, 'a-1'), undefined);
    // The busy notice was sent before the idle one (lower seq): arriving late, it is ignored.
    assert.equal(await t.receiver.receive(busy, signLink(KEYS.a, NOTICE_CONTEXT, busy)), 'unchanged');
    assert.equal(await t.receiver.receive(idle, signLink(KEYS.a, NOTICE_CONTEXT, idle)), 'unchanged');
    assert.equal(busyLabel(t.kube, 'a-1'), undefined);
    const stale = notice('a-1', 3, { sentAt: Date.now() - 60_000 });
    assert.equal(await t.receiver.receive(stale, signLink(KEYS.a, NOTICE_CONTEXT, stale)), 'bad_request');
    // A restarted gateway (new epoch) starts its sequence again.
    const restarted = notice('a-1', 1, { epoch: 2000, seq: 1 });
    assert.equal(await t.receiver.receive(restarted, signLink(KEYS.a, NOTICE_CONTEXT, restarted)), 'applied');
    assert.equal(busyLabel(t.kube, 'a-1'), 'true');
    assert.deepEqual(t.results, ['applied', 'unchanged', 'unchanged', 'bad_request', 'applied']);
  } finally {
    await t.stop();
  }
});
