// [integration] The cloudnative-pg engine's objects (Cluster, ScheduledBackup, PodMonitor) against
// CloudNativePG's own CRDs (from its Go module, test/cluster/third-party-crds.sh) on a real
// kube-apiserver, for every shape the API allows: plain, point-in-time recovery, an S3 endpoint with
// its own CA, one instance. A misspelled field is refused, so the validation is real.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseMemoryStore } from '../../../cdk8s/api/v1alpha1/index.ts';
import { renderMemoryStore } from '../../../cdk8s/charts/index.ts';
import { toYaml } from '../../../operator/cli/render.ts';
import { type Cluster, startCluster } from '../../support/cluster.ts';
import { waitForCrdsEstablished } from '../../support/kube-helpers.ts';
import { fixedCtx, ROOT } from './fixtures.ts';

const backup = {
  destinationPath: 's3://acme-callfleet-backups/memorystores',
  s3Credentials: {
    accessKeyIdSecretRef: { name: 'backup-s3', key: 'ACCESS_KEY_ID' },
    secretAccessKeySecretRef: { name: 'backup-s3', key: 'SECRET_ACCESS_KEY' },
  },
};

const VARIANTS: Record<string, Record<string, unknown>> = {
  plain: { backup },
  'point-in-time recovery': {
    backup,
    recovery: { sourceServerName: 'callers-old-db', targetTime: '2026-11-30T12:00:00Z' },
  },
  'recovery from another bucket, all WAL': {
    backup,
    recovery: { sourceServerName: 'old-callers-db', destinationPath: 's3://old-backups/memorystores' },
  },
  'MinIO endpoint with its own CA, region, image, one instance': {
    instances: 1,
    imageName: 'ghcr.io/cloudnative-pg/postgresql:17.6',
    storage: { size: '5Gi', storageClassName: 'local-path' },
    resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '1Gi' } },
    backup: {
      ...backup,
      endpointURL: 'https://minio.storage.svc:9000',
      endpointCASecretRef: { name: 'minio-ca', key: 'ca.crt' },
      s3Credentials: { ...backup.s3Credentials, regionSecretRef: { name: 'backup-s3', key: 'REGION' } },
      retentionPolicy: '8w',
      schedule: '0 30 2 * * 0',
    },
  },
};

function render(name: string, cloudnativePg: Record<string, unknown>): KubernetesObject[] {
  const parsed = parseMemoryStore({
    apiVersion: 'callfleet.io/v1alpha1',
    kind: 'MemoryStore',
    metadata: { name, namespace: 'voice', uid: '00000000-0000-4000-8000-000000000001' },
    spec: { engine: 'cloudnative-pg', cloudnativePg },
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.issues));
  const r = renderMemoryStore(parsed.value, {
    ...fixedCtx,
    fleet: [{ name: 'support', maxReplicas: 20 }],
  });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.error));
  return r.objects;
}

interface ClusterSpec {
  instances: number;
  postgresql: { parameters: Record<string, string>; pg_hba: string[] };
  topologySpreadConstraints: { topologyKey: string }[];
  backup: { barmanObjectStore: { destinationPath: string } };
  bootstrap: unknown;
}

describe('[integration] cloudnative-pg objects against CloudNativePG’s CRDs', () => {
  let cluster: Cluster;
  const dryRun = (objects: KubernetesObject[]) =>
    cluster.kubectl(
      ['apply', '--server-side', '--dry-run=server', '--field-manager=callfleet-operator', '-f', '-'],
      { input: toYaml(objects) },
    );

  before(async () => {
    const crdDir = execFileSync('bash', [join(ROOT, 'test/cluster/third-party-crds.sh')], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .pop() as string;
    const wanted = readdirSync(crdDir).filter((f) => /^postgresql\.cnpg\.io_|podmonitors/.test(f));
    assert.ok(
      wanted.some((f) => f.includes('clusters')) && wanted.some((f) => f.includes('scheduledbackups')),
    );
    cluster = await startCluster();
    const own = await cluster.kubectl([
      'apply',
      '--server-side',
      '-f',
      join(ROOT, 'crds/callfleet.io_memorystores.yaml'),
    ]);
    assert.equal(own.code, 0, own.stderr);
    for (const f of wanted) {
      const r = await cluster.kubectl(['apply', '--server-side', '-f', join(crdDir, f)]);
      assert.equal(r.code, 0, `installing ${f}: ${r.stderr}`);
    }
    await waitForCrdsEstablished(cluster, 'all');
    assert.equal((await cluster.kubectl(['create', 'namespace', 'voice'])).code, 0);
  });
  after(async () => {
    await cluster?.stop();
  });

  for (const [label, spec] of Object.entries(VARIANTS)) {
    it(`${label}: Cluster, ScheduledBackup and PodMonitor are accepted`, async () => {
      const objects = render('callers', spec).filter((o) => o.kind !== 'Secret');
      assert.deepEqual(objects.map((o) => o.kind).sort(), ['Cluster', 'PodMonitor', 'ScheduledBackup']);
      const r = await dryRun(objects);
      assert.equal(r.code, 0, `${label}: ${r.stderr}\n${toYaml(objects)}`);
      assert.equal(r.stdout.trim().split('\n').filter(Boolean).length, objects.length, r.stdout);
    });
  }

  it('the Cluster carries the connection budget, TLS-only pg_hba, zone spread and the object store', () => {
    const clusterObject = render('callers', VARIANTS.plain as Record<string, unknown>).find(
      (o) => o.kind === 'Cluster',
    ) as unknown as { spec: ClusterSpec };
    // (20 + 1 surge) × 10 + 10 reserved = 220, rounded up to 225.
    assert.equal(clusterObject.spec.postgresql.parameters.max_connections, '225');
    assert.ok(clusterObject.spec.postgresql.pg_hba.includes('hostnossl all all 0.0.0.0/0 reject'));
    assert.equal(clusterObject.spec.instances, 3);
    assert.equal(clusterObject.spec.topologySpreadConstraints[0]?.topologyKey, 'topology.kubernetes.io/zone');
    assert.equal(clusterObject.spec.backup.barmanObjectStore.destinationPath, backup.destinationPath);
    assert.deepEqual(clusterObject.spec.bootstrap, { initdb: { database: 'callfleet', owner: 'callfleet' } });
  });

  it('a misspelled field is refused by the CRD (the validation is real)', async () => {
    const objects = render('callers', VARIANTS.plain as Record<string, unknown>).filter(
      (o) => o.kind === 'Cluster',
    );
    const broken = structuredClone(objects) as (KubernetesObject & { spec: Record<string, unknown> })[];
    (broken[0] as { spec: Record<string, unknown> }).spec.instancez = 3;
    const r = await dryRun(broken);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /instancez/);
    const wrongType = structuredClone(objects) as (KubernetesObject & { spec: Record<string, unknown> })[];
    (wrongType[0] as { spec: Record<string, unknown> }).spec.instances = 'three';
    const r2 = await dryRun(wrongType);
    assert.notEqual(r2.code, 0);
  });

  it('recovering from the store’s own cluster name is a render error naming the field', () => {
    const parsed = parseMemoryStore({
      apiVersion: 'callfleet.io/v1alpha1',
      kind: 'MemoryStore',
      metadata: { name: 'callers', namespace: 'voice' },
      spec: {
        engine: 'cloudnative-pg',
        cloudnativePg: { backup, recovery: { sourceServerName: 'callers-db' } },
      },
    });
    assert.ok(parsed.ok);
    const r = renderMemoryStore(parsed.value, fixedCtx);
    assert.ok(!r.ok);
    assert.equal(r.error.path, 'spec.cloudnativePg.recovery.sourceServerName');
  });

  it('engine is immutable: the API server refuses to switch a live store to another engine', async () => {
    const store = {
      apiVersion: 'callfleet.io/v1alpha1',
      kind: 'MemoryStore',
      metadata: { name: 'switching', namespace: 'voice' },
      spec: { engine: 'postgres' },
    };
    const created = await cluster.kubectl(['create', '-f', '-'], { input: JSON.stringify(store) });
    assert.equal(created.code, 0, created.stderr);
    const patched = await cluster.kubectl([
      'patch',
      '-n',
      'voice',
      'memorystore',
      'switching',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { engine: 'cloudnative-pg', cloudnativePg: { backup } } }),
    ]);
    assert.notEqual(patched.code, 0);
    assert.match(patched.stderr, /spec\.engine: Invalid value: .*engine is immutable/);
  });
});
