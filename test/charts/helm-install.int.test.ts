// `helm install` of charts/callfleet on the real control plane: the operator Deployment, RBAC and CRDs come up
// (kwok runs the pods), and the chart's RBAC is proven sufficient by running the real operator process with the
// chart ServiceAccount's token until it reconciles examples/voiceagent-echo.yaml to Ready. Then `helm upgrade`
// with a changed CRD updates the CRD, and `helm uninstall` keeps the CRDs and the users' VoiceAgents.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { toolPath } from '../cluster/tools.ts';
import { type Cluster, startCluster } from '../support/cluster.ts';
import {
  applyObjects,
  createNamespace,
  example,
  getObject,
  type KObject,
  kubectlOk,
  listObjects,
  waitForCrdsEstablished,
  waitForReady,
} from '../support/kube-helpers.ts';
import { type OperatorProcess, startOperator } from '../support/operator.ts';
import { waitFor } from '../support/processes.ts';

const root = new URL('../../', import.meta.url).pathname;
const NS = 'callfleet-system';
const RELEASE = 'callfleet';

describe('helm install charts/callfleet on a real control plane', { timeout: 600_000 }, () => {
  let cluster: Cluster;
  let operator: OperatorProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'callfleet-helm-'));

  const helm = (...args: string[]) =>
    new Promise<string>((resolve, reject) => {
      execFile(
        toolPath('helm'),
        [...args, '--kubeconfig', cluster.kubeconfigPath],
        {
          env: {
            ...process.env,
            HELM_CACHE_HOME: join(dir, 'cache'),
            HELM_CONFIG_HOME: join(dir, 'config'),
            HELM_DATA_HOME: join(dir, 'data'),
          },
          maxBuffer: 16 * 1024 * 1024,
        },
        (error, stdout, stderr) =>
          error
            ? reject(new Error(`helm ${args.join(' ')}: ${stderr || error.message}`))
            : resolve(stdout + stderr),
      );
    });

  /** A kubeconfig that authenticates as a ServiceAccount (bearer token), against the test cluster. */
  const serviceAccountKubeconfig = async (name: string, namespace: string) => {
    const token = (
      await kubectlOk(cluster, ['create', 'token', name, '-n', namespace, '--duration=1h'])
    ).trim();
    const admin = parse(readFileSync(cluster.kubeconfigPath, 'utf8'));
    const path = join(dir, `${namespace}-${name}.kubeconfig`);
    writeFileSync(
      path,
      stringify({
        ...admin,
        users: [{ name: 'operator', user: { token } }],
        contexts: [{ name: 'operator', context: { cluster: admin.clusters[0].name, user: 'operator' } }],
        'current-context': 'operator',
      }),
    );
    return path;
  };

  /**
   * The pods the release's notices Service selects (by its selector as installed: kwok's loopback pod IPs
   * never make it into EndpointSlices).
   */
  const noticeTargets = async () => {
    const service = (await getObject(cluster, NS, `service/${RELEASE}-notices`)) as KObject & {
      spec: { selector: Record<string, string> };
    };
    const selector = Object.entries(service.spec.selector)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    return (await listObjects(cluster, NS, 'pods', selector)).map((p) => p.metadata.name);
  };

  before(async () => {
    cluster = await startCluster({ controllers: true, nodes: 2 });
  });
  after(async () => {
    await operator?.stop();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('install: CRDs (kept), operator Deployment available with 2 replicas, RBAC, ServiceAccount, PDB', async () => {
    await helm(
      'install',
      RELEASE,
      join(root, 'charts/callfleet'),
      '-n',
      NS,
      '--create-namespace',
      '--wait',
      '--timeout',
      '180s',
    );
    for (const crd of ['voiceagents.callfleet.io', 'memorystores.callfleet.io']) {
      const object = await getObject(cluster, 'default', `crd/${crd}`);
      assert.equal(object?.metadata.annotations?.['helm.sh/resource-policy'], 'keep');
    }
    await waitForCrdsEstablished(cluster, 'all', 30_000);
    const deployment = await getObject(cluster, NS, `deployment/${RELEASE}`);
    assert.equal(deployment?.status?.availableReplicas, 2);
    for (const resource of [
      `serviceaccount/${RELEASE}`,
      `role/${RELEASE}-leader-election`,
      `role/${RELEASE}-leader-label`,
      `service/${RELEASE}-notices`,
      `pdb/${RELEASE}`,
      `service/${RELEASE}-metrics`,
    ])
      assert.ok(await getObject(cluster, NS, resource), resource);
    assert.ok(await getObject(cluster, 'default', `clusterrole/${RELEASE}`));
    assert.ok(await getObject(cluster, 'default', `clusterrolebinding/${RELEASE}`));
  });

  test('the operator, with only the chart ServiceAccount rights, leads and reconciles examples/voiceagent-echo.yaml to Ready', async () => {
    const kubeconfig = await serviceAccountKubeconfig(RELEASE, NS);
    // The ServiceAccount can do nothing the chart did not grant (e.g. no Secrets outside its rules' kinds).
    const forbidden = await cluster.kubectl(['--kubeconfig', kubeconfig, 'get', 'clusterroles']);
    assert.notEqual(forbidden.code, 0);
    assert.match(forbidden.stderr, /forbidden/);

    // The process plays one of the chart's (kwok-run) operator pods, as the downward API tells it.
    const [leaderPod, standbyPod] = (
      await listObjects(cluster, NS, 'pods', `app.kubernetes.io/instance=${RELEASE}`)
    ).map((p) => p.metadata.name);
    assert.ok(leaderPod && standbyPod);
    operator = await startOperator(
      cluster,
      [`--kubeconfig=${kubeconfig}`, `--lease-namespace=${NS}`],
      'chart-operator',
      { env: { POD_NAME: leaderPod, POD_NAMESPACE: NS } },
    );
    await createNamespace(cluster, 'voice');
    await applyObjects(cluster, 'voice', [example('examples/voiceagent-echo.yaml')]);
    const va = await waitForReady(cluster, 'voice', 'voiceagent/echo', 120_000);
    // The leader labelled its pod (with the chart's Role only), and the notices Service routes to it alone.
    await waitFor(
      'the notices Service selects the leader pod only',
      async () => (await noticeTargets()).join() === leaderPod,
      60_000,
      500,
    );
    const standby = await getObject(cluster, NS, `pod/${standbyPod}`);
    assert.equal(standby?.metadata.labels?.['callfleet.io/operator-leader'], undefined);
    assert.equal(va.status?.observedGeneration, va.metadata.generation);
    const lease = await getObject(cluster, NS, 'lease/callfleet-operator');
    assert.ok(
      (lease?.spec as { holderIdentity?: string } | undefined)?.holderIdentity,
      'the operator holds the Lease in the release namespace',
    );
    const log = readFileSync(operator.logFile, 'utf8');
    assert.match(log, /caches synced/);
    assert.doesNotMatch(log, /forbidden/i, 'the operator hit a missing permission');
  });

  test('helm upgrade with a changed CRD updates the CRD', async () => {
    const chart = join(dir, 'chart');
    cpSync(join(root, 'charts/callfleet'), chart, { recursive: true });
    const crdFile = join(chart, 'templates/crds/callfleet.io_voiceagents.yaml');
    const crd = readFileSync(crdFile, 'utf8');
    const marker = 'Upgraded by helm-install.int.test.ts.';
    const changed = crd.replace(/(openAPIV3Schema:\n\s+description: )/, `$1${marker} `);
    assert.notEqual(changed, crd);
    writeFileSync(crdFile, changed);
    await helm('upgrade', RELEASE, chart, '-n', NS, '--wait', '--timeout', '180s');
    const upgraded = (await getObject(cluster, 'default', 'crd/voiceagents.callfleet.io')) as KObject & {
      spec: { versions: { schema: { openAPIV3Schema: { description: string } } }[] };
    };
    assert.ok(upgraded.spec.versions[0]?.schema.openAPIV3Schema.description.startsWith(marker));
    assert.ok(await getObject(cluster, 'voice', 'voiceagent/echo'), 'the VoiceAgent survives the CRD update');
  });

  test('helm uninstall keeps the CRDs and the VoiceAgents, removes the operator', async () => {
    await operator?.stop();
    operator = undefined;
    // The stopped leader took its label off: the notices Service routes nowhere until the next leader.
    await waitFor(
      'the notices Service empties',
      async () => (await noticeTargets()).length === 0,
      30_000,
      500,
    );
    const out = await helm('uninstall', RELEASE, '-n', NS, '--wait', '--timeout', '120s');
    assert.match(out, /kept due to the resource policy/);
    assert.ok(await getObject(cluster, 'default', 'crd/voiceagents.callfleet.io'));
    assert.ok(await getObject(cluster, 'default', 'crd/memorystores.callfleet.io'));
    assert.ok(await getObject(cluster, 'voice', 'voiceagent/echo'));
    await waitFor(
      'operator Deployment deleted',
      async () => !(await getObject(cluster, NS, `deployment/${RELEASE}`)),
      60_000,
    );
    assert.equal(await getObject(cluster, 'default', `clusterrole/${RELEASE}`), null);
  });

  test('namespaced mode (CRDs already there): Roles in the watched namespaces suffice to reconcile VoiceAgents', async () => {
    const ns = 'team-ops';
    const watched = 'voice-team';
    const watchedToo = 'voice-team-eu';
    await createNamespace(cluster, watched);
    await createNamespace(cluster, watchedToo);
    await helm(
      'install',
      'team',
      join(root, 'charts/callfleet'),
      '-n',
      ns,
      '--create-namespace',
      '--wait',
      '--timeout',
      '180s',
      '-f',
      join(root, 'charts/callfleet/ci/namespaced-values.yaml'),
      '--set',
      `rbac.watchNamespaces={${watched},${watchedToo}}`,
      '--set',
      'crds.install=false',
      '--set',
      'operator.replicas=1',
    );
    assert.ok(await getObject(cluster, watched, 'role/team-callfleet'));
    assert.ok(await getObject(cluster, watchedToo, 'role/team-callfleet'));
    const kubeconfig = await serviceAccountKubeconfig('team-callfleet', ns);
    const elsewhere = await cluster.kubectl([
      '--kubeconfig',
      kubeconfig,
      'get',
      'voiceagents',
      '-n',
      'voice',
    ]);
    assert.match(elsewhere.stderr, /forbidden/, 'no rights outside the watched namespace');

    const [teamPod] = (await listObjects(cluster, ns, 'pods', 'app.kubernetes.io/instance=team')).map(
      (p) => p.metadata.name,
    );
    assert.ok(teamPod);
    operator = await startOperator(
      cluster,
      [
        `--kubeconfig=${kubeconfig}`,
        `--lease-namespace=${ns}`,
        // The chart names the Lease per release (and its Role allows only that one).
        '--lease-name=team-callfleet-operator',
        `--namespace=${watched},${watchedToo}`,
      ],
      'team-operator',
      { env: { POD_NAME: teamPod, POD_NAMESPACE: ns } },
    );
    await applyObjects(cluster, watched, [example('examples/voiceagent-echo.yaml')]);
    await applyObjects(cluster, watchedToo, [example('examples/voiceagent-echo.yaml')]);
    await waitForReady(cluster, watched, 'voiceagent/echo', 120_000);
    await waitForReady(cluster, watchedToo, 'voiceagent/echo', 120_000);
    // The release namespace is not watched: the leader label's own Role lets the leader label its pod.
    await waitFor(
      'the team operator pod labelled leader',
      async () =>
        (await getObject(cluster, ns, `pod/${teamPod}`))?.metadata.labels?.[
          'callfleet.io/operator-leader'
        ] === 'true',
      30_000,
      500,
    );
    const log = readFileSync(operator.logFile, 'utf8');
    assert.doesNotMatch(log, /forbidden/i, 'the operator hit a missing permission');
    await operator.stop();
    operator = undefined;
    await helm('uninstall', 'team', '-n', ns, '--wait', '--timeout', '120s');
  });
});
