// Cache transforms: what the caches keep of each object (issue 24).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import pino from 'pino';
import { resourceFor } from '../../../operator/kube/resources.ts';
import { Informer } from '../../../operator/runtime/informer.ts';
import { secretForCache, slimPod, stripServerFields } from '../../../operator/runtime/transforms.ts';
import { FakeKube } from '../fake-kube.ts';

const managedFields = [
  { manager: 'kube-controller-manager', operation: 'Update', fieldsV1: { 'f:status': {} } },
];

const fullPod = (): V1Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'gw-1',
    namespace: 'ns',
    uid: 'u1',
    resourceVersion: '7',
    labels: { 'callfleet.io/voiceagent': 'echo', 'pod-template-hash': 'abc' },
    annotations: { 'controller.kubernetes.io/pod-deletion-cost': '0' },
    managedFields,
  },
  spec: {
    nodeName: 'node-1',
    containers: [
      {
        name: 'gateway',
        image: 'ghcr.io/callfleet/callfleet:0.1.0',
        env: [
          'PORT',
          'CALLFLEET_INTERNAL_PORT',
          'CALLFLEET_GATEWAY_CONFIG',
          'CALLFLEET_VOICEAGENT',
          'POD_NAME',
        ].map((name) => ({ name, value: `value-of-${name.toLowerCase()}` })),
        volumeMounts: [
          { name: 'config', mountPath: '/etc/callfleet', readOnly: true },
          { name: 'tmp', mountPath: '/tmp' },
        ],
        ports: [{ name: 'internal', containerPort: 9090, protocol: 'TCP' }],
      },
    ],
    volumes: [{ name: 'config', configMap: { name: 'echo-config' } }],
  },
  status: {
    phase: 'Running',
    podIP: '127.100.0.3',
    conditions: [
      { type: 'Ready', status: 'True', lastTransitionTime: new Date() },
      { type: 'PodScheduled', status: 'True' },
    ],
    containerStatuses: [{ name: 'gateway', ready: true, restartCount: 0, image: 'x', imageID: 'y' }],
  },
});

test('every cached object loses managedFields and the last-applied annotation', () => {
  const object = stripServerFields({
    metadata: {
      name: 'x',
      managedFields,
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"big":1}', keep: 'me' },
    },
  } as KubernetesObject);
  assert.equal(object.metadata?.managedFields, undefined);
  assert.deepEqual(object.metadata?.annotations, { keep: 'me' });
});

test('a cached gateway pod keeps what the tracker, scaler and rollout guard read, and is a fraction of the size', () => {
  const pod = fullPod();
  const size = JSON.stringify(pod).length;
  const slim = slimPod(pod) as V1Pod;
  assert.equal(slim.metadata?.labels?.['pod-template-hash'], 'abc');
  assert.equal(slim.metadata?.annotations?.['controller.kubernetes.io/pod-deletion-cost'], '0');
  assert.equal(slim.spec?.nodeName, 'node-1');
  assert.deepEqual(slim.spec?.containers?.[0]?.ports, [{ name: 'internal', containerPort: 9090 }]);
  assert.equal(slim.status?.podIP, '127.100.0.3');
  assert.deepEqual(slim.status?.conditions, [{ type: 'Ready', status: 'True' }]);
  assert.equal(slim.metadata?.managedFields, undefined);
  assert.equal(slim.status?.containerStatuses, undefined);
  assert.ok(JSON.stringify(slim).length < size / 2, `${JSON.stringify(slim).length} of ${size} bytes`);
});

test("one Secret cache: the operator's own keep their data, a user's Secret only its key names", () => {
  const own = secretForCache({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'echo-stream-key', labels: { 'app.kubernetes.io/managed-by': 'callfleet-operator' } },
    data: { key: 'c2VjcmV0' },
  } as KubernetesObject) as KubernetesObject & { data: Record<string, string> };
  assert.equal(own.data.key, 'c2VjcmV0');
  const users = secretForCache({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'twilio' },
    data: { 'auth-token': 'dG9rZW4=' },
  } as KubernetesObject) as KubernetesObject & { data: Record<string, string> };
  assert.deepEqual(users.data, { 'auth-token': '' });
});

test('a write-through update is transformed like a watched object', async () => {
  const kube = new FakeKube();
  kube.put(fullPod() as KubernetesObject);
  const informer = new Informer<V1Pod>(
    kube.rest,
    { resource: resourceFor('v1', 'Pod'), transform: slimPod },
    pino({ level: 'silent' }),
  );
  await informer.start();
  try {
    assert.equal(informer.get('ns/gw-1')?.status?.containerStatuses, undefined, 'slim when listed');
    const written = await kube.rest.mergePatch<V1Pod>('/api/v1/namespaces/ns/pods/gw-1', {
      metadata: { labels: { 'callfleet.io/busy': 'true' } },
    });
    informer.update(written);
    const cached = informer.get('ns/gw-1');
    assert.equal(cached?.metadata?.labels?.['callfleet.io/busy'], 'true');
    assert.equal(cached?.status?.containerStatuses, undefined, 'slim after the write-through');
    assert.equal(cached?.metadata?.managedFields, undefined);
  } finally {
    await informer.stop();
  }
});
