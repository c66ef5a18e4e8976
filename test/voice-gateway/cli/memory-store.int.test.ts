// `callfleet memory export|forget|audit --store NAME`: the connection URL and encryption key come from
// the MemoryStore's Secrets, read through a real API server; the data from a real PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Cluster, startCluster } from '../../support/cluster.ts';
import { kubectlOk, waitForCrdsEstablished } from '../../support/kube-helpers.ts';
import { runMemoryCli } from '../memory/callfleet-cli.ts';
import { callRecord, type Harness, KEY_SPEC, phoneForms, startHarness } from '../memory/harness.ts';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const NS = 'calls';

// Nothing from the environment: everything must come from the MemoryStore.
const cli = (args: string[]) => runMemoryCli(args, { KUBECONFIG: '' });

function secret(name: string, data: Record<string, string>) {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: NS }, stringData: data };
}

function memoryStore(name: string, spec: Record<string, unknown>) {
  return {
    apiVersion: 'callfleet.io/v1alpha1',
    kind: 'MemoryStore',
    metadata: { name, namespace: NS },
    spec,
  };
}

/** What the operator writes once it has reconciled the store (here by hand, through the status subresource). */
async function setStatus(cluster: Cluster, name: string, connectionSecret: { name: string; key: string }) {
  const status = {
    status: {
      endpoint: `${name}-postgres.${NS}.svc:5432`,
      connectionSecret,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Available',
          message: 'by hand',
          lastTransitionTime: new Date().toISOString(),
        },
      ],
    },
  };
  await kubectlOk(cluster, [
    'patch',
    '-n',
    NS,
    'memorystore',
    name,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify(status),
  ]);
}

describe('callfleet memory --store (MemoryStore lookup through the Kubernetes API) [integration]', () => {
  let cluster: Cluster;
  let h: Harness;
  const phone = '+14155550501';
  const other = '+14155550502';

  before(async () => {
    [cluster, h] = await Promise.all([startCluster(), startHarness()]);
    await kubectlOk(cluster, ['apply', '-f', `${root}crds`]);
    await waitForCrdsEstablished(cluster, 'all', 30_000);
    await kubectlOk(cluster, ['create', 'namespace', NS]);
    const inCluster = new URL(h.pg.url);
    inCluster.host = `reachable-postgres.${NS}.svc:5432`;
    const objects = [
      // engine postgres, default encryption Secret name (<name>-encryption, key "key")
      memoryStore('callers', { engine: 'postgres' }),
      secret('callers-connection', { url: h.pg.url }),
      secret('callers-encryption', { key: KEY_SPEC }),
      // external engine, its own Secret names; the URL names an in-cluster Service
      memoryStore('reachable', {
        engine: 'external',
        external: { connectionSecretRef: { name: 'rds', key: 'uri' } },
        encryption: { keySecretRef: { name: 'field-keys', key: 'active' } },
      }),
      secret('rds', { uri: inCluster.toString() }),
      secret('field-keys', { active: KEY_SPEC }),
      // not reconciled yet: no status
      memoryStore('pending', { engine: 'postgres' }),
    ];
    await kubectlOk(cluster, ['apply', '-f', '-'], objects.map((o) => JSON.stringify(o)).join('\n'));
    await setStatus(cluster, 'callers', { name: 'callers-connection', key: 'url' });
    await setStatus(cluster, 'reachable', { name: 'rds', key: 'uri' });

    const store = h.store();
    store.record(callRecord(phone, { summary: 'Wants the platypus tour on Tuesday' }));
    store.record(callRecord(other, { summary: 'Someone else entirely' }));
    await store.flush(5000);
  });
  after(async () => {
    await h?.close();
    await cluster?.stop();
  });

  const storeArgs = (name: string) => [
    '--store',
    name,
    '--namespace',
    NS,
    '--kubeconfig',
    cluster.kubeconfigPath,
  ];

  test('export reads the URL from status.connectionSecret and the key from <name>-encryption', async () => {
    const exported = await cli(['export', '--phone', phone, ...storeArgs('callers')]);
    assert.equal(exported.code, 0, exported.stderr);
    const doc = JSON.parse(exported.stdout);
    assert.equal(doc.found, true);
    assert.equal(doc.caller.phone, phone);
    assert.equal(doc.memories[0].text, 'Wants the platypus tour on Tuesday');
    assert.ok(!exported.stdout.includes('Someone else'));
  });

  test('an in-cluster host: a clear error naming port-forward, then --host keeps the Secret credentials', async () => {
    const unresolved = await cli(['audit', ...storeArgs('reachable')]);
    assert.equal(unresolved.code, 1);
    assert.match(
      unresolved.stderr,
      /reachable-postgres\.calls\.svc \(from Secret calls\/rds key uri\) does not resolve/,
    );
    assert.match(unresolved.stderr, /kubectl port-forward -n calls svc\/reachable-postgres 5432:5432/);
    assert.match(unresolved.stderr, /--host 127\.0\.0\.1:5432/);

    const host = `127.0.0.1:${h.pg.port}`;
    const exported = await cli(['export', '--phone', phone, ...storeArgs('reachable'), '--host', host]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(JSON.parse(exported.stdout).caller.phone, phone);
  });

  test('forget and audit through the store; no number in their output', async () => {
    const forgotten = await cli([
      'forget',
      '--phone',
      phone,
      '--actor',
      'dpo@example.com',
      ...storeArgs('callers'),
    ]);
    assert.equal(forgotten.code, 0, forgotten.stderr);
    assert.equal(JSON.parse(forgotten.stdout).counts.callers, 1);

    const audit = await cli(['audit', '--action', 'forget', ...storeArgs('callers')]);
    assert.equal(audit.code, 0, audit.stderr);
    const entries = JSON.parse(audit.stdout);
    assert.equal(entries.length, 1);
    assert.equal(entries[0].actor, 'dpo@example.com');
    for (const form of [...phoneForms(phone), ...phoneForms(other)]) {
      assert.ok(!forgotten.stdout.includes(form));
      assert.ok(!audit.stdout.includes(form));
    }

    const gone = await cli(['export', '--phone', phone, ...storeArgs('callers')]);
    assert.equal(gone.code, 3);
    const still = await cli(['export', '--phone', other, ...storeArgs('callers')]);
    assert.equal(still.code, 0, still.stderr);
  });

  test('clear errors: missing store, store without status, missing Secret key', async () => {
    const missing = await cli(['audit', ...storeArgs('nope')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /MemoryStore calls\/nope: not found/);

    const pending = await cli(['audit', ...storeArgs('pending')]);
    assert.equal(pending.code, 1);
    assert.match(pending.stderr, /MemoryStore calls\/pending has no status\.connectionSecret yet/);

    await kubectlOk(cluster, [
      'create',
      'secret',
      'generic',
      '-n',
      NS,
      'pending-connection',
      '--from-literal=x=y',
    ]);
    await setStatus(cluster, 'pending', { name: 'pending-connection', key: 'url' });
    const noKey = await cli(['audit', ...storeArgs('pending')]);
    assert.equal(noKey.code, 1);
    assert.match(noKey.stderr, /Secret calls\/pending-connection has no key "url"/);

    const badHost = await cli(['audit', ...storeArgs('callers'), '--host', 'not a host']);
    assert.equal(badHost.code, 1);
    assert.match(badHost.stderr, /--host not a host: expected HOST:PORT/);
  });
});
