// spec.calls.recording renders into the gateway: the recording block of its config carries the
// MemoryStore's bucket, the pods get the bucket credentials from the store's Secret refs, the egress
// policy opens a non-443 bucket port, and a store without objectStorage is a render error naming the field.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { KubernetesObject } from '@kubernetes/client-node';
import { renderDocuments } from '../../../operator/cli/render.ts';
import { EXAMPLES, fixedCtx, readDocs } from './fixtures.ts';

type Obj = KubernetesObject & Record<string, any>;

function docs(mutateStore: (s: Record<string, any>) => void = () => {}) {
  const [store] = readDocs(join(EXAMPLES, 'memorystore-postgres.yaml')) as Record<string, any>[];
  const [va] = readDocs(join(EXAMPLES, 'voiceagent-elevenlabs-stream.yaml')) as Record<string, any>[];
  const s = structuredClone(store) as Record<string, any>;
  mutateStore(s);
  return [s, structuredClone(va) as Record<string, any>];
}

function objectsOf(input: Record<string, any>[]) {
  const result = renderDocuments(input, fixedCtx);
  if (!result.ok) return { failures: result.failures, objects: [] as Obj[] };
  return { failures: [], objects: result.objects as Obj[] };
}

describe('VoiceAgent spec.calls.recording', () => {
  test('the gateway config carries the store bucket, retention and consent; env the bucket credentials', () => {
    const { objects, failures } = objectsOf(docs());
    assert.deepEqual(failures, []);
    const cm = objects.find(
      (o) => o.kind === 'ConfigMap' && o.metadata?.name === 'support-gateway-config',
    ) as Obj;
    const config = JSON.parse(Object.values(cm.data as Record<string, string>)[0] as string);
    assert.equal(config.recording.enabled, true);
    assert.equal(config.recording.bucket.bucket, 'acme-callfleet');
    assert.equal(config.recording.bucket.prefix, 'prod/callers/');
    assert.equal(config.recording.retentionDays, 90);
    assert.match(config.recording.consentAnnouncement, /recorded/);
    const deploy = objects.find((o) => o.kind === 'Deployment') as Obj;
    const env = deploy.spec.template.spec.containers[0].env as { name: string; valueFrom?: any }[];
    const byName = Object.fromEntries(env.map((e) => [e.name, e]));
    assert.deepEqual(byName.AWS_ACCESS_KEY_ID?.valueFrom.secretKeyRef, {
      name: 'callers-bucket',
      key: 'access-key-id',
    });
    assert.deepEqual(byName.AWS_SECRET_ACCESS_KEY?.valueFrom.secretKeyRef, {
      name: 'callers-bucket',
      key: 'secret-access-key',
    });
  });

  test('a MinIO endpoint on :9000 opens that port in the gateway egress policy', () => {
    const { objects } = objectsOf(
      docs((s) => {
        s.spec.objectStorage.endpoint = 'http://minio.storage.svc:9000';
        s.spec.objectStorage.forcePathStyle = true;
      }),
    );
    const policy = objects.find(
      (o) => o.kind === 'NetworkPolicy' && o.metadata?.name?.startsWith('support'),
    ) as Obj;
    const ports = (policy.spec.egress as { ports?: { port: number }[] }[]).flatMap((e) =>
      (e.ports ?? []).map((p) => p.port),
    );
    assert.ok(ports.includes(9000), JSON.stringify(ports));
  });

  test('a store without objectStorage: a render error naming spec.calls.recording', () => {
    const { failures } = objectsOf(
      docs((s) => {
        delete s.spec.objectStorage;
        delete s.spec.backup;
      }),
    );
    assert.ok(
      failures.some(
        (f: { path?: string; message?: string }) =>
          f.path === 'spec.calls.recording' && /no spec.objectStorage/.test(f.message ?? ''),
      ),
      JSON.stringify(failures),
    );
  });
});
