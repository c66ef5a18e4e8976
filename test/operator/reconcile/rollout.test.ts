// Automatic rollback on the in-memory API door: a stalled rollout goes back to the last good pod
// template when spec.rollout.autoRollback is on, and is only reported when it is off.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import { parseVoiceAgent } from '../../../cdk8s/api/v1alpha1/index.ts';
import { guardRollout } from '../../../operator/reconcile/rollout.ts';
import { rolloutConditions } from '../../../operator/reconcile/voiceagent.ts';
import { example, type Harness, harness, log } from './harness.ts';

const template = (image: string) => ({
  metadata: { labels: { app: 'echo' } },
  spec: { containers: [{ name: 'gateway', image }] },
});

function replicaSet(hash: string, revision: string, image: string): KubernetesObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `echo-${hash}`,
      namespace: 'team',
      labels: { 'pod-template-hash': hash },
      annotations: { 'deployment.kubernetes.io/revision': revision },
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'Deployment', name: 'echo', uid: 'dep-uid', controller: true },
      ],
    },
    spec: {
      template: { ...template(image), metadata: { labels: { app: 'echo', 'pod-template-hash': hash } } },
    },
  } as KubernetesObject;
}

const stalled: V1Deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {
    name: 'echo',
    namespace: 'team',
    uid: 'dep-uid',
    generation: 2,
    annotations: { 'deployment.kubernetes.io/revision': '2' },
  },
  spec: { selector: { matchLabels: { app: 'echo' } }, template: template('bad:2') },
  status: {
    observedGeneration: 2,
    replicas: 3,
    updatedReplicas: 1,
    availableReplicas: 2,
    conditions: [
      { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'timed out' },
    ],
  },
};

describe('guardRollout', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
    h.kube.put(replicaSet('good', '1', 'good:1'));
    h.kube.put(replicaSet('bad', '2', 'bad:2'));
    await h.settle();
  });
  afterEach(async () => {
    await h.stop();
  });

  async function guard(autoRollback: boolean) {
    const raw = example('voiceagent-echo.yaml');
    const va = {
      ...raw,
      metadata: { ...raw.metadata, generation: 2 },
      spec: { ...raw.spec, rollout: { autoRollback } },
      status: { lastGoodGeneration: 1, lastGoodTemplate: 'good' },
    };
    const parsed = parseVoiceAgent(va);
    assert.ok(parsed.ok);
    return guardRollout(h.ctx, va, parsed.value.spec, stalled, stalled, false, log);
  }

  test('autoRollback true: a stalled rollout is rolled back to the last good template', async () => {
    const outcome = await guard(true);
    assert.equal(outcome.status.failedGeneration, 2);
    const applied = h.kube.calls.find((c) => c.verb === 'apply');
    const image = (applied?.body as V1Deployment | undefined)?.spec?.template?.spec?.containers[0]?.image;
    assert.equal(image, 'good:1');
  });

  test('autoRollback false: a failing rollout is reported, not rolled back', async () => {
    const outcome = await guard(false);
    assert.equal(outcome.status.failedGeneration, undefined);
    assert.equal(h.kube.calls.filter((c) => c.verb === 'apply').length, 0, 'no rollback applied');
    const ready = rolloutConditions(stalled, 3, 2).find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'False');
    assert.equal(ready?.reason, 'RolloutStalled');
  });
});
