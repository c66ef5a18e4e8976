// Leader-only metrics on a real control plane: the leader exports each VoiceAgent's conditions
// (callfleet_operator_condition) and the Ready counts; when it loses the Lease it stops exporting them at
// once, so an ex-leader's stale "not Ready" can neither keep an alert firing nor hide a recovery.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { microTime } from '../../operator/runtime/leader-election.ts';
import { type Cluster, startCluster } from '../support/cluster.ts';
import {
  applyObjects,
  createNamespace,
  example,
  kubectlOk,
  waitForCrdsEstablished,
} from '../support/kube-helpers.ts';
import { type OperatorProcess, startOperator } from '../support/operator.ts';
import { waitFor } from '../support/processes.ts';

const root = new URL('../../', import.meta.url).pathname;

/** The sample lines of one metric family in a scrape. */
const samples = (text: string, name: string) =>
  text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

describe('leader-only metrics', { timeout: 180_000 }, () => {
  let cluster: Cluster;
  let operator: OperatorProcess | undefined;

  before(async () => {
    cluster = await startCluster({ controllers: false });
    await kubectlOk(cluster, ['apply', '--server-side', '-f', `${root}crds`]);
    await waitForCrdsEstablished(cluster, ['voiceagents.callfleet.io'], 30_000);
  });
  after(async () => {
    await operator?.stop();
    await cluster?.stop();
  });

  test('a replica that loses the Lease stops exporting conditions and Ready counts', async () => {
    operator = await startOperator(cluster, [], 'operator-leader-metrics');
    await createNamespace(cluster, 'voice');
    const va = example('examples/voiceagent-echo.yaml');
    await applyObjects(cluster, 'voice', [{ ...va, metadata: { name: 'echo' } }]);
    // No controller-manager: the Deployment never reports, the VoiceAgent stays not Ready (Creating).
    let text = '';
    await waitFor(
      'the leader exports the VoiceAgent not Ready',
      async () => {
        text = await (await fetch(operator?.metricsUrl ?? '')).text();
        return samples(text, 'callfleet_operator_condition').some(
          (l) => /resource_name="echo"/.test(l) && /type="Ready"/.test(l) && / 0$/.test(l),
        );
      },
      60_000,
      250,
    );
    assert.ok(samples(text, 'callfleet_operator_managed_resources').length > 0);
    assert.match(text, /^callfleet_operator_leader 1$/m);
    assert.match(
      text,
      /^callfleet_operator_rollbacks_total\{resource_namespace="voice",resource_name="echo"\} 0$/m,
    );

    // Another replica takes the Lease (as after a network partition): this one steps down.
    await kubectlOk(cluster, [
      'patch',
      'lease',
      'callfleet-operator',
      '-n',
      'default',
      '--type=merge',
      '-p',
      JSON.stringify({
        spec: {
          holderIdentity: 'operator-elsewhere',
          renewTime: microTime(new Date()),
          leaseDurationSeconds: 120,
        },
      }),
    ]);
    await waitFor(
      'the ex-leader reports leader 0',
      async () =>
        /^callfleet_operator_leader 0$/m.test(await (await fetch(operator?.metricsUrl ?? '')).text()),
      20_000,
      200,
    );
    // Give a reconcile that was running a moment to finish: it must not bring the series back.
    await new Promise((r) => setTimeout(r, 3000));
    text = await (await fetch(operator.metricsUrl)).text();
    assert.deepEqual(samples(text, 'callfleet_operator_condition'), []);
    assert.deepEqual(samples(text, 'callfleet_operator_managed_resources'), []);
    assert.match(text, /^# TYPE callfleet_operator_condition gauge$/m, 'the family is still declared');
  });
});
