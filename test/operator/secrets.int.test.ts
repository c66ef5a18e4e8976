// A VoiceAgent whose Secret is missing, on a real API server with the operator running: Ready=False
// naming the Secret, the key and the field within one reconcile (shown by `kubectl get va` in the
// Reason column), nothing applied meanwhile, and the condition clears by itself when the Secret
// appears (the operator watches the Secrets its VoiceAgents read; no resync needed).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Cluster, startCluster } from '../support/cluster.ts';
import {
  applyObjects,
  example,
  getObject,
  kubectlOk,
  listObjects,
  waitForCrdsEstablished,
} from '../support/kube-helpers.ts';
import { type OperatorProcess, startOperator } from '../support/operator.ts';
import { waitFor } from '../support/processes.ts';

const root = new URL('../../', import.meta.url).pathname;
const NS = 'secrets';

describe('missing Secrets on a real cluster', () => {
  let cluster: Cluster;
  let operator: OperatorProcess | undefined;

  before(async () => {
    cluster = await startCluster({ controllers: false });
    await kubectlOk(cluster, ['apply', '-f', `${root}crds`]);
    await waitForCrdsEstablished(cluster, 'all', 30_000);
    // Resync far away: only the Secret watch can clear the condition within the test's time.
    operator = await startOperator(cluster, ['--call-poll=0', '--resync=600']);
  });
  after(async () => {
    await operator?.stop();
    await cluster?.stop();
  });

  const ready = async () =>
    (await getObject(cluster, NS, 'voiceagent/echo'))?.status?.conditions?.find((c) => c.type === 'Ready');

  test('Ready=False SecretNotFound / SecretKeyNotFound naming Secret, key and field; clears when the Secret appears', async () => {
    await kubectlOk(cluster, ['create', 'namespace', NS]);
    await applyObjects(cluster, NS, [example('examples/voiceagent-echo.yaml')]);

    await waitFor('SecretNotFound', async () => (await ready())?.reason === 'SecretNotFound', 20_000, 200);
    const missing = await ready();
    assert.equal(missing?.status, 'False');
    assert.match(
      missing?.message ?? '',
      /Secret twilio \(spec\.telephony\.twilio\.\w+SecretRef\) does not exist/,
    );
    const table = await kubectlOk(cluster, ['get', 'va', '-n', NS]);
    assert.match(table, /REASON/);
    assert.match(table, /SecretNotFound/, `kubectl get va shows the reason:\n${table}`);
    assert.equal(
      (await listObjects(cluster, NS, 'deploy')).length,
      0,
      'no Deployment whose pods cannot start',
    );

    const twilio = (data: Record<string, string>) => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'twilio' },
      stringData: data,
    });
    await applyObjects(cluster, NS, [twilio({ 'account-sid': 'AC00000000000000000000000000000000' })]);
    await waitFor(
      'SecretKeyNotFound',
      async () => (await ready())?.reason === 'SecretKeyNotFound',
      20_000,
      200,
    );
    assert.match((await ready())?.message ?? '', /Secret twilio has no key auth-token/);

    await applyObjects(cluster, NS, [
      twilio({ 'account-sid': 'AC00000000000000000000000000000000', 'auth-token': 'token' }),
    ]);
    await waitFor(
      'the condition to clear and the fleet to be created',
      async () =>
        !/^Secret/.test((await ready())?.reason ?? 'Secret') &&
        (await listObjects(cluster, NS, 'deploy')).length === 1,
      20_000,
      200,
    );
  });
});
