// Each property of a MemoryStore's children, on every example.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MemoryStore } from '../../../cdk8s/api/v1alpha1/index.ts';
import { memoryStoreConnection, renderMemoryStore } from '../../../cdk8s/charts/index.ts';
import { examples, find, fixedRandom, type Obj, parsedMemoryStores } from './fixtures.ts';

const stores = examples().flatMap((e) => parsedMemoryStores(e).map((ms) => ({ example: e.name, ms })));
assert.ok(stores.some((s) => s.ms.spec.engine === 'postgres'));
assert.ok(stores.some((s) => s.ms.spec.engine === 'external'));
assert.ok(stores.some((s) => s.ms.spec.engine === 'cloudnative-pg'));

function rendered(ms: MemoryStore, ctx = {}) {
  const r = renderMemoryStore(ms, {
    randomBytes: fixedRandom,
    now: () => new Date('2026-01-01T00:00:00Z'),
    ...ctx,
  });
  assert.ok(r.ok, JSON.stringify(r));
  return r.objects;
}

for (const { example, ms } of stores) {
  const name = ms.metadata.name as string;
  const ns = ms.metadata.namespace ?? 'default';
  const objects = rendered(ms);

  describe(`MemoryStore ${example}`, () => {
    it('every child: the architecture labels and a controller ownerReference', () => {
      for (const o of objects) {
        const labels = o.metadata?.labels ?? {};
        assert.equal(labels['callfleet.io/memorystore'], name);
        assert.equal(labels['app.kubernetes.io/part-of'], 'callfleet');
        assert.equal(labels['app.kubernetes.io/managed-by'], 'callfleet-operator');
        assert.ok(labels['app.kubernetes.io/name'] && labels['app.kubernetes.io/component']);
        assert.equal(labels['app.kubernetes.io/instance'], undefined);
        assert.equal(o.metadata?.ownerReferences?.[0]?.kind, 'MemoryStore');
        assert.equal(o.metadata?.ownerReferences?.[0]?.controller, true);
      }
      assert.doesNotMatch(JSON.stringify(objects), /cdk8s\.io/);
    });

    it('generated Secrets are create-only; encryption key generated only when not given', () => {
      for (const s of find(objects, 'Secret')) {
        assert.equal(s.metadata?.annotations?.['callfleet.io/create-only'], 'true');
      }
      assert.equal(find(objects, 'Secret', `${name}-encryption`).length, ms.spec.encryption ? 0 : 1);
    });

    if (ms.spec.engine === 'external') {
      it('external: only the egress NetworkPolicy for the store clients, connection from the user Secret', () => {
        assert.equal(find(objects, 'StatefulSet').length, 0);
        const [np] = find(objects, 'NetworkPolicy');
        assert.deepEqual(np?.spec.podSelector, { matchLabels: { 'callfleet.io/memorystore': name } });
        assert.deepEqual(np?.spec.policyTypes, ['Egress']);
        assert.equal(np?.spec.egress[0].ports[0].port, 5432);
        const conn = memoryStoreConnection(ms);
        assert.equal(conn.connectionSecretName, ms.spec.external?.connectionSecretRef.name);
        assert.equal(conn.connectionSecretKey, ms.spec.external?.connectionSecretRef.key);
      });
      return;
    }

    if (ms.spec.engine === 'cloudnative-pg') {
      it('cloudnative-pg: a Cluster, its ScheduledBackup and PodMonitor; gateways use the Secrets CloudNativePG creates', () => {
        assert.equal(find(objects, 'StatefulSet').length, 0);
        const [cluster] = find(objects, 'Cluster');
        assert.equal(cluster?.metadata?.name, `${name}-db`);
        assert.equal(cluster?.spec.instances, ms.spec.cloudnativePg?.instances);
        assert.equal(
          cluster?.spec.backup.barmanObjectStore.destinationPath,
          ms.spec.cloudnativePg?.backup.destinationPath,
        );
        assert.equal(cluster?.spec.backup.retentionPolicy, ms.spec.cloudnativePg?.backup.retentionPolicy);
        assert.equal(find(objects, 'ScheduledBackup')[0]?.spec.cluster.name, `${name}-db`);
        assert.equal(
          find(objects, 'PodMonitor')[0]?.spec.selector.matchLabels['cnpg.io/cluster'],
          `${name}-db`,
        );
        const conn = memoryStoreConnection(ms);
        assert.equal(conn.connectionSecretName, `${name}-db-app`);
        assert.equal(conn.connectionSecretKey, 'uri');
        assert.deepEqual(conn.ca, { kind: 'Secret', name: `${name}-db-ca`, key: 'ca.crt' });
      });
      return;
    }

    const [sts] = find(objects, 'StatefulSet');
    it('postgres: TLS on with the generated certificate, pg_hba refusing plain connections, max_connections from the budget', () => {
      const args: string[] = sts?.spec.template.spec.containers[0].args ?? [];
      assert.ok(args.includes('ssl=on'));
      assert.ok(args.includes('max_connections=25'), args.join(' ')); // no VoiceAgent: the reserved 10, rounded
      const [tls] = find(objects, 'Secret', `${name}-postgres-tls`) as Obj[];
      assert.match(tls?.stringData['ca.crt'], /BEGIN CERTIFICATE/);
      assert.match(tls?.stringData['tls.key'], /BEGIN PRIVATE KEY/);
      const [hba] = find(objects, 'ConfigMap', `${name}-postgres-config`);
      assert.match(hba?.data['pg_hba.conf'], /hostnossl all all 0\.0\.0\.0\/0 reject/);
      assert.deepEqual(memoryStoreConnection(ms).ca, {
        kind: 'Secret',
        name: `${name}-postgres-tls`,
        key: 'ca.crt',
      });
    });

    it('postgres: StatefulSet with PostgreSQL 17, PVC template, probes, non-root, resources', () => {
      assert.ok(sts);
      assert.equal(sts.spec.replicas, 1);
      const c = sts.spec.template.spec.containers[0];
      assert.match(c.image, /^postgres:17/);
      assert.equal(
        sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage,
        ms.spec.postgres?.storage.size ?? '10Gi',
      );
      assert.ok(c.startupProbe && c.livenessProbe && c.readinessProbe);
      assert.equal(c.securityContext.runAsNonRoot, true);
      assert.equal(c.securityContext.readOnlyRootFilesystem, true);
      assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'] });
      assert.ok(c.resources.requests.cpu && c.resources.requests.memory);
      const pw = c.env.find((e: { name: string }) => e.name === 'POSTGRES_PASSWORD');
      assert.deepEqual(pw.valueFrom.secretKeyRef, { name: `${name}-postgres-credentials`, key: 'password' });
      assert.equal(
        sts.spec.persistentVolumeClaimRetentionPolicy.whenDeleted,
        ms.spec.deletionPolicy === 'Retain' ? 'Retain' : 'Delete',
      );
    });

    it('postgres: headless and client Services, a PDB', () => {
      const [headless] = find(objects, 'Service', `${name}-postgres-headless`);
      const [client] = find(objects, 'Service', `${name}-postgres`);
      assert.equal(headless?.spec.clusterIP, 'None');
      assert.equal(sts?.spec.serviceName, headless?.metadata?.name);
      assert.equal(client?.spec.ports[0].port, 5432);
      assert.deepEqual(client?.spec.selector, sts?.spec.selector.matchLabels);
      assert.equal(find(objects, 'PodDisruptionBudget').length, 1);
    });

    it('postgres: NetworkPolicy admits only pods labelled with this store and the operator namespace', () => {
      const [np] = find(objects, 'NetworkPolicy');
      assert.deepEqual(np?.spec.podSelector.matchLabels, sts?.spec.selector.matchLabels);
      assert.deepEqual(np?.spec.ingress, [
        {
          from: [
            { podSelector: { matchLabels: { 'callfleet.io/memorystore': name } } },
            { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'callfleet-system' } } },
          ],
          ports: [{ protocol: 'TCP', port: 5432 }],
        },
      ]);
    });

    it('postgres: connection Secret url points at the client Service', () => {
      const [conn] = find(objects, 'Secret', `${name}-connection`) as Obj[];
      const [creds] = find(objects, 'Secret', `${name}-postgres-credentials`) as Obj[];
      const url = new URL(conn?.stringData.url);
      assert.equal(url.protocol, 'postgres:');
      assert.equal(url.host, `${name}-postgres.${ns}.svc:5432`);
      assert.equal(url.searchParams.get('sslmode'), 'verify-full');
      assert.equal(decodeURIComponent(url.password), creds?.stringData.password);
      assert.ok(String(creds?.stringData.password).length >= 24);
    });

    it('backup CronJob: the product image runs `callfleet memory backup` to the bucket, non-root, only when asked', () => {
      const [cron] = find(objects, 'CronJob');
      assert.equal(cron !== undefined, ms.spec.backup !== undefined);
      if (!cron || !ms.spec.backup || !ms.spec.objectStorage) return;
      assert.equal(cron.spec.schedule, ms.spec.backup.schedule);
      assert.equal(cron.spec.concurrencyPolicy, 'Forbid');
      assert.ok(cron.spec.jobTemplate.spec.activeDeadlineSeconds > 0, 'bounded in time');
      const pod = cron.spec.jobTemplate.spec.template;
      assert.equal(pod.metadata.labels['callfleet.io/memorystore'], name);
      assert.equal(pod.spec.securityContext.runAsNonRoot, true);
      const c = pod.spec.containers[0];
      assert.match(c.image, /callfleet/);
      assert.equal(c.command, undefined, 'the image entrypoint (callfleet), no shell');
      assert.deepEqual(c.args.slice(0, 4), ['memory', 'backup', '--keep', String(ms.spec.backup.keep)]);
      if (ms.spec.backup.maxAgeDays)
        assert.deepEqual(c.args.slice(4), ['--max-age-days', String(ms.spec.backup.maxAgeDays)]);
      assert.equal(c.securityContext.readOnlyRootFilesystem, true);
      const env = Object.fromEntries(c.env.map((e: { name: string }) => [e.name, e]));
      assert.equal(env.CALLFLEET_MEMORY_URL.valueFrom.secretKeyRef.name, `${name}-connection`);
      assert.deepEqual(
        env.CALLFLEET_ENCRYPTION_KEY.valueFrom.secretKeyRef,
        ms.spec.encryption?.keySecretRef ?? { name: `${name}-encryption`, key: 'key' },
      );
      const bucket = JSON.parse(env.CALLFLEET_OBJECT_STORAGE.value);
      assert.equal(bucket.bucket, ms.spec.objectStorage.bucket);
      assert.equal(bucket.prefix, ms.spec.objectStorage.prefix);
      const creds = ms.spec.objectStorage.credentials;
      assert.deepEqual(env.AWS_ACCESS_KEY_ID?.valueFrom.secretKeyRef, creds?.accessKeyIdSecretRef);
      assert.equal(
        find(objects, 'PersistentVolumeClaim').length,
        0,
        'no backup PVC: backups leave the cluster',
      );
    });

    it('password: generated from the random source, kept when the operator passes it, omitted when it exists', () => {
      const other = rendered(ms, { randomBytes: (n: number) => new Uint8Array(n).fill(7) });
      const pw = (o: typeof objects) =>
        (find(o, 'Secret', `${name}-postgres-credentials`)[0] as Obj | undefined)?.stringData.password;
      assert.notEqual(pw(other), pw(objects));
      assert.deepEqual(rendered(ms), objects, 'same random source, same output');
      assert.equal(pw(rendered(ms, { password: 'kept-password' })), 'kept-password');
      const existing = rendered(ms, { existingPasswordSecret: true });
      assert.equal(find(existing, 'Secret', `${name}-postgres-credentials`).length, 0);
      assert.equal(find(existing, 'Secret', `${name}-connection`).length, 0);
      assert.equal(find(existing, 'StatefulSet').length, 1);
    });
  });
}
