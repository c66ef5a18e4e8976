// The chart as a platform team installs it (issue 17): a subchart of an umbrella chart with `global` values
// (registry mirror, pull secrets), installed by the real helm on the local control plane where the process
// kubelet runs the operator pod for real. Then `helm test` (its pod runs `callfleet check` for real), the
// per-release Lease, gateways on the mirrored image with the pull secrets, and tenants' view/edit rights
// through the aggregated ClusterRoles.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { toolPath } from '../cluster/tools.ts';
import { type Fleet, startFleetEnvironment } from '../support/fleet.ts';
import { applyObjects, createNamespace, example, getObject, kubectlOk } from '../support/kube-helpers.ts';
import { waitFor } from '../support/processes.ts';

const root = new URL('../../', import.meta.url).pathname;
const NS = 'platform-system';
const RELEASE = 'platform';
const FULLNAME = 'platform-callfleet';
const MIRROR = 'mirror.example.com';

interface PodSpec {
  containers: { image: string }[];
  imagePullSecrets?: { name: string }[];
}
const podSpecOf = (d: { spec?: unknown } | null) =>
  (d?.spec as { template: { spec: PodSpec } } | undefined)?.template.spec;

describe('the chart as a subchart with global values, helm test on the local cluster', {
  timeout: 900_000,
}, () => {
  let fleet: Fleet;
  const dir = mkdtempSync(join(tmpdir(), 'callfleet-umbrella-'));
  const helm = (...args: string[]) =>
    new Promise<string>((resolve, reject) => {
      execFile(
        toolPath('helm'),
        [...args, '--kubeconfig', fleet.cluster.kubeconfigPath],
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
            ? reject(new Error(`helm ${args.join(' ')}: ${stderr || error.message}\n${stdout}`))
            : resolve(stdout + stderr),
      );
    });

  before(async () => {
    fleet = await startFleetEnvironment({ processNodes: 1 });
    const umbrella = join(dir, 'umbrella');
    mkdirSync(umbrella);
    writeFileSync(
      join(umbrella, 'Chart.yaml'),
      stringify({
        apiVersion: 'v2',
        name: 'platform',
        version: '1.0.0',
        dependencies: [
          { name: 'callfleet', version: '0.1.0', repository: `file://${join(root, 'charts/callfleet')}` },
        ],
      }),
    );
    writeFileSync(
      join(umbrella, 'values.yaml'),
      stringify({
        global: {
          imageRegistry: MIRROR,
          imagePullSecrets: [{ name: 'mirror-pull' }],
          otherChartsSetting: true,
        },
        callfleet: { operator: { replicas: 1, logLevel: 'debug' }, commonLabels: { team: 'voice' } },
      }),
    );
    await helm('dependency', 'build', umbrella);
  });
  after(async () => {
    await fleet?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('installs with global values; the operator runs on the mirrored image and leads its own Lease', async () => {
    const out = await helm(
      'install',
      RELEASE,
      join(dir, 'umbrella'),
      '-n',
      NS,
      '--create-namespace',
      '--wait',
      '--timeout',
      '240s',
    );
    assert.match(out, /STATUS: deployed/);
    const deployment = await getObject(fleet.cluster, NS, `deployment/${FULLNAME}`);
    const spec = podSpecOf(deployment);
    assert.equal(spec?.containers[0]?.image, `${MIRROR}/callfleet/callfleet:0.1.0`);
    assert.deepEqual(spec?.imagePullSecrets, [{ name: 'mirror-pull' }]);
    assert.equal(deployment?.metadata.labels?.team, 'voice');
    await waitFor(
      `the operator holds Lease ${FULLNAME}-operator`,
      async () => {
        const lease = await getObject(fleet.cluster, NS, `lease/${FULLNAME}-operator`);
        return Boolean((lease?.spec as { holderIdentity?: string } | undefined)?.holderIdentity);
      },
      60_000,
      500,
    );
    // Helm prints only the parent's NOTES: the chart's own, rendered against this API server's version.
    const notes = await helm(
      'install',
      'notes',
      join(root, 'charts/callfleet'),
      '-n',
      NS,
      '--dry-run=server',
      '--set',
      'crds.install=false',
    );
    assert.match(notes, /callfleet\/v0\.1\.0\/examples\/voiceagent-echo\.yaml/);
    assert.doesNotMatch(notes, /callfleet\/main\//);
    assert.match(notes, new RegExp(`Lease ${NS}/notes-callfleet-operator`));
  });

  test('helm test passes: its pod runs `callfleet check` (CRDs, operator, VoiceAgent dry run)', async () => {
    const status = await helm('test', RELEASE, '-n', NS, '--timeout', '180s');
    assert.match(status, /Phase:\s+Succeeded/);
    // The process kubelet serves no log endpoint: read the container's output where it wrote it.
    const logFile = fleet.kubelet.processesOf(NS, `${FULLNAME}-test`).get('check')?.logFile;
    assert.ok(logFile, 'the test pod ran on the process kubelet');
    const out = readFileSync(logFile, 'utf8');
    for (const line of [
      'ok   CRD voiceagents.callfleet.io Established',
      `ok   operator Deployment ${NS}/${FULLNAME} Available`,
      'ok   a VoiceAgent is accepted (server-side dry run)',
      'ok   an invalid VoiceAgent is refused by the CRD schema',
      'callfleet check: all checks passed',
    ])
      assert.ok(out.includes(line), `${line}\n${out}`);
    // A dry run created nothing.
    assert.equal(await getObject(fleet.cluster, NS, 'voiceagent/callfleet-check'), null);
  });

  test('gateways of a VoiceAgent without an image follow the chart: mirror image and global pull secret', async () => {
    await createNamespace(fleet.cluster, 'voice');
    await applyObjects(fleet.cluster, 'voice', [example('examples/voiceagent-echo.yaml')]);
    let pod: PodSpec | undefined;
    await waitFor(
      'the operator renders the gateway Deployment',
      async () => {
        const d = await getObject(fleet.cluster, 'voice', 'deployment/echo');
        pod = podSpecOf(d);
        return pod !== undefined;
      },
      90_000,
      500,
    );
    assert.equal(pod?.containers[0]?.image, `${MIRROR}/callfleet/callfleet:0.1.0`);
    assert.deepEqual(pod?.imagePullSecrets, [{ name: 'mirror-pull' }]);
  });

  test('namespace tenants: edit may create VoiceAgents, view may only read them (aggregated ClusterRoles)', async () => {
    await createNamespace(fleet.cluster, 'tenant');
    await kubectlOk(fleet.cluster, [
      'create',
      'rolebinding',
      'alice-edit',
      '-n',
      'tenant',
      '--clusterrole=edit',
      '--user=alice',
    ]);
    await kubectlOk(fleet.cluster, [
      'create',
      'rolebinding',
      'bob-view',
      '-n',
      'tenant',
      '--clusterrole=view',
      '--user=bob',
    ]);
    const can = async (user: string, verb: string, resource: string) =>
      (
        await fleet.cluster.kubectl(['auth', 'can-i', verb, resource, '-n', 'tenant', `--as=${user}`])
      ).stdout.trim();
    await waitFor(
      'the aggregation controller folds the callfleet roles into edit',
      async () => (await can('alice', 'create', 'voiceagents.callfleet.io')) === 'yes',
    );
    assert.equal(await can('alice', 'patch', 'voiceagents.callfleet.io/scale'), 'yes');
    assert.equal(await can('alice', 'delete', 'memorystores.callfleet.io'), 'yes');
    assert.equal(await can('bob', 'list', 'voiceagents.callfleet.io'), 'yes');
    assert.equal(await can('bob', 'create', 'voiceagents.callfleet.io'), 'no');
  });
});
