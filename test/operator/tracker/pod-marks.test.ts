import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { V1Deployment } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { parseVoiceAgent } from '../../../cdk8s/api/v1alpha1/index.ts';
import { renderVoiceAgent } from '../../../cdk8s/charts/index.ts';
import { desiredMarks } from '../../../cdk8s/charts/pod-marks.ts';
import { marksPatch } from '../../../operator/tracker/pod-marks.ts';

test('a busy pod is labelled busy, costs its call count and blocks both the cluster-autoscaler and Karpenter', () => {
  assert.deepEqual(desiredMarks(3, false), {
    labels: { 'callfleet.io/busy': 'true', 'callfleet.io/serving': 'true' },
    annotations: {
      'controller.kubernetes.io/pod-deletion-cost': '3',
      'cluster-autoscaler.kubernetes.io/safe-to-evict': 'false',
      'karpenter.sh/do-not-disrupt': 'true',
    },
  });
  assert.deepEqual(desiredMarks(0, false).annotations, {
    'controller.kubernetes.io/pod-deletion-cost': '0',
    'cluster-autoscaler.kubernetes.io/safe-to-evict': 'true',
    'karpenter.sh/do-not-disrupt': null,
  });
});

test('going idle removes the busy label and karpenter.sh/do-not-disrupt (merge-patch null); an idle pod without them is not written', () => {
  const busy = desiredMarks(2, false);
  const pod = {
    metadata: {
      labels: { ...busy.labels } as Record<string, string>,
      annotations: { ...busy.annotations } as Record<string, string>,
    },
  };
  assert.deepEqual(marksPatch(pod, desiredMarks(0, false))?.metadata, {
    labels: { 'callfleet.io/busy': null },
    annotations: {
      'controller.kubernetes.io/pod-deletion-cost': '0',
      'cluster-autoscaler.kubernetes.io/safe-to-evict': 'true',
      'karpenter.sh/do-not-disrupt': null,
    },
  });
  const idle = desiredMarks(0, false);
  const { 'karpenter.sh/do-not-disrupt': _gone, ...idleAnnotations } = idle.annotations;
  assert.equal(
    marksPatch(
      {
        metadata: {
          labels: { 'callfleet.io/serving': 'true' },
          annotations: idleAnnotations as Record<string, string>,
        },
      },
      idle,
    ),
    undefined,
  );
});

test('an idle pod from a template older than ADR 0031 (busy=false) is idle already: no write', () => {
  const idle = desiredMarks(0, false);
  const { 'karpenter.sh/do-not-disrupt': _gone, ...idleAnnotations } = idle.annotations;
  const old = {
    metadata: {
      labels: { 'callfleet.io/busy': 'false', 'callfleet.io/serving': 'true' },
      annotations: idleAnnotations as Record<string, string>,
    },
  };
  assert.equal(marksPatch(old, idle), undefined);
  assert.deepEqual(marksPatch(old, desiredMarks(1, false))?.metadata.labels, { 'callfleet.io/busy': 'true' });
});

test('a pod on a cordoned node stops serving new calls', () => {
  assert.equal(desiredMarks(2, true).labels['callfleet.io/serving'], 'false');
});

test('only changed marks are patched; unchanged pods are not written', () => {
  const marks = desiredMarks(1, false);
  const pod = {
    metadata: {
      labels: { ...(marks.labels as Record<string, string>), app: 'x' },
      annotations: { ...marks.annotations } as Record<string, string>,
    },
  };
  assert.equal(marksPatch(pod, marks), undefined);
  assert.deepEqual(marksPatch(pod, desiredMarks(2, false)), {
    metadata: { labels: {}, annotations: { 'controller.kubernetes.io/pod-deletion-cost': '2' } },
  });
});

test('a pod whose /status did not answer still stops serving on a cordoned node, and nothing else changes', () => {
  assert.deepEqual(desiredMarks(undefined, true), {
    labels: { 'callfleet.io/serving': 'false' },
    annotations: {},
  });
  const pod = { metadata: { labels: { 'callfleet.io/busy': 'true', 'callfleet.io/serving': 'true' } } };
  assert.deepEqual(marksPatch(pod, desiredMarks(undefined, true)), {
    metadata: { labels: { 'callfleet.io/serving': 'false' }, annotations: {} },
  });
});

test('a pod started from the rendered template already carries the idle marks: no write until its first call', () => {
  const example = parse(
    readFileSync(new URL('../../../examples/voiceagent-echo.yaml', import.meta.url), 'utf8'),
  );
  const parsed = parseVoiceAgent({ ...example, metadata: { name: 'echo', namespace: 'team', uid: 'u' } });
  assert.ok(parsed.ok);
  const rendered = renderVoiceAgent(parsed.value, {});
  assert.ok(rendered.ok);
  const deployment = rendered.objects.find((o) => o.kind === 'Deployment') as V1Deployment;
  const pod = { metadata: deployment.spec?.template.metadata };
  assert.equal(pod.metadata?.labels?.['callfleet.io/busy'], undefined, 'no busy label in the template');
  assert.equal(marksPatch(pod, desiredMarks(0, false)), undefined);
  assert.ok(marksPatch(pod, desiredMarks(1, false)), 'its first call is still marked');
});
