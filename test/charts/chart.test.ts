// The chart lints and renders with the defaults and every ci/*-values.yaml, and renders what the issue asks.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { chartDir } from '../../charts/generate.ts';
import { toolPath } from '../cluster/tools.ts';

interface Doc {
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests
  [key: string]: any;
}

// The chart requires kubeVersion >= 1.28; `helm template` assumes the version helm was built against, which a
// helm built from the module proxy does not know: render for the control plane the tests run.
const KUBE_VERSION = /KUBERNETES_VERSION=(\S+)/.exec(
  readFileSync(new URL('../cluster/versions.env', import.meta.url), 'utf8'),
)?.[1] as string;
const helm = (...args: string[]) =>
  execFileSync(toolPath('helm'), args[0] === 'template' ? [...args, '--kube-version', KUBE_VERSION] : args, {
    cwd: chartDir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
const valueFiles = readdirSync(join(chartDir, 'ci')).filter((f) => f.endsWith('-values.yaml'));

export function render(...args: string[]): Doc[] {
  return parseAllDocuments(helm('template', 'cf', '.', '--namespace', 'callfleet-system', ...args))
    .map((d) => d.toJS() as Doc)
    .filter(Boolean);
}

describe('charts/callfleet', () => {
  for (const file of ['', ...valueFiles]) {
    const args = file ? ['-f', join('ci', file)] : [];
    it(`helm lint --strict and helm template pass (${file || 'defaults'})`, () => {
      helm('lint', '--strict', '.', ...args);
      assert.ok(render(...args).length > 0);
    });
  }

  it('has at least the namespaced, monitoring and crds-off ci values', () => {
    for (const name of ['namespaced', 'monitoring', 'crds-off'])
      assert.ok(valueFiles.includes(`${name}-values.yaml`));
  });

  it('defaults: CRDs kept, 2 replicas with leader election, probes, non-root, read-only root, PDB', () => {
    const docs = render();
    const crds = docs.filter((d) => d.kind === 'CustomResourceDefinition');
    assert.deepEqual(crds.map((d) => d.metadata.name).sort(), [
      'callcampaigns.callfleet.io',
      'memorystores.callfleet.io',
      'voiceagents.callfleet.io',
    ]);
    for (const crd of crds) assert.equal(crd.metadata.annotations?.['helm.sh/resource-policy'], 'keep');
    const deployment = docs.find((d) => d.kind === 'Deployment');
    assert.equal(deployment?.spec.replicas, 2);
    const pod = deployment?.spec.template.spec;
    const container = pod.containers[0];
    assert.ok(container.args.includes('--leader-elect=true'));
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.ok(container.resources.requests.cpu);
    assert.ok(docs.some((d) => d.kind === 'PodDisruptionBudget'));
    assert.ok(docs.some((d) => d.kind === 'Service' && d.spec.ports[0].name === 'metrics'));
    assert.ok(docs.some((d) => d.kind === 'ClusterRole'));
    const lease = docs.find((d) => d.kind === 'Role' && d.metadata.name.endsWith('leader-election'));
    assert.equal(lease?.metadata.namespace, 'callfleet-system');
    assert.ok(lease?.rules.every((r: { apiGroups: string[] }) => r.apiGroups[0] === 'coordination.k8s.io'));
  });

  it('crds.keep=false drops the keep annotation; crds.install=false drops the CRDs', () => {
    const crds = render('--set', 'crds.keep=false').filter((d) => d.kind === 'CustomResourceDefinition');
    assert.equal(crds.length, 3);
    for (const crd of crds) assert.equal(crd.metadata.annotations?.['helm.sh/resource-policy'], undefined);
    assert.equal(
      render('--set', 'crds.install=false').filter((d) => d.kind === 'CustomResourceDefinition').length,
      0,
    );
  });

  it('namespaced mode: Roles in the watched namespace, no cluster-wide rules but Nodes, --namespace flag', () => {
    const docs = render('-f', 'ci/namespaced-values.yaml');
    for (const ns of ['voice', 'voice-eu']) {
      assert.ok(
        docs.find((d) => d.kind === 'Role' && d.metadata.namespace === ns),
        `a Role in ${ns}`,
      );
    }
    // The operator's own ClusterRoles (not the ones aggregated into view/edit, not the helm test hook's).
    const clusterRoles = docs.filter(
      (d) =>
        d.kind === 'ClusterRole' &&
        !d.metadata.labels?.['rbac.authorization.k8s.io/aggregate-to-edit'] &&
        !d.metadata.annotations?.['helm.sh/hook'],
    );
    assert.deepEqual(
      clusterRoles.flatMap((d) => d.rules.flatMap((r: { resources: string[] }) => r.resources)),
      ['nodes'],
    );
    const args = docs.find((d) => d.kind === 'Deployment')?.spec.template.spec.containers[0].args;
    assert.ok(args.includes('--namespace=voice,voice-eu'), 'every watched namespace is passed');
    const sa = docs.find((d) => d.kind === 'ServiceAccount');
    assert.match(sa?.metadata.annotations?.['eks.amazonaws.com/role-arn'] ?? '', /^arn:aws:iam::/);
  });

  it('monitoring on: ServiceMonitor, PrometheusRule with runbook links, dashboard ConfigMap', () => {
    const docs = render('-f', 'ci/monitoring-values.yaml');
    assert.ok(docs.some((d) => d.kind === 'ServiceMonitor'));
    const rule = docs.find((d) => d.kind === 'PrometheusRule');
    const alerts = rule?.spec.groups.flatMap((g: { rules: { alert?: string }[] }) =>
      g.rules.filter((r) => r.alert),
    );
    assert.ok(alerts.length >= 7);
    for (const alert of alerts) assert.match(alert.annotations.runbook_url, /docs\/runbooks\/alerts\.md#/);
    const dashboard = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name.endsWith('dashboard'));
    assert.ok(JSON.parse(dashboard?.data['callfleet.json']).panels.length > 0);
    // monitoring.voiceAgentLabels reach the operator, which puts them on every VoiceAgent's monitors.
    const args: string[] = docs.find((d) => d.kind === 'Deployment')?.spec.template.spec.containers[0].args;
    assert.ok(
      args.includes('--voiceagent-monitoring-labels=release=kube-prometheus-stack,team=voice,'),
      args.join(' '),
    );
  });

  it('rejects values the schema forbids', () => {
    assert.throws(() => helm('template', 'cf', '.', '--set', 'rbac.scope=everywhere'), /scope/);
    assert.throws(() => helm('template', 'cf', '.', '--set', 'operatorr.replicas=1'), /operatorr/);
    assert.throws(() => helm('template', 'cf', '.', '--set', 'rbac.scope=namespaced'), /watchNamespaces/);
  });
});

describe('charts/callfleet for platform teams (issue 17)', () => {
  const operatorArgs = (docs: Doc[]) =>
    docs.find((d) => d.kind === 'Deployment')?.spec.template.spec.containers[0].args as string[];

  it('gateways follow the operator image: registry mirror (global wins), digest, pull secrets (global merged)', () => {
    const docs = render(
      '--set',
      'image.registry=123456789012.dkr.ecr.eu-west-1.amazonaws.com',
      '--set',
      `image.digest=sha256:${'b'.repeat(64)}`,
      '--set',
      'imagePullSecrets[0].name=ecr',
      '--set',
      'image.pullPolicy=Always',
    );
    const pod = docs.find((d) => d.kind === 'Deployment')?.spec.template.spec;
    const image = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/callfleet/callfleet@sha256:${'b'.repeat(64)}`;
    assert.equal(pod.containers[0].image, image);
    assert.deepEqual(pod.imagePullSecrets, [{ name: 'ecr' }]);
    const args = operatorArgs(docs);
    assert.ok(args.includes(`--gateway-image=${image}`));
    assert.ok(args.includes('--gateway-image-pull-policy=Always'));
    assert.ok(args.includes('--gateway-image-pull-secrets=ecr'));

    const global = render(
      '--set',
      'image.registry=ignored.example.com',
      '--set',
      'global.imageRegistry=europe-docker.pkg.dev/acme/mirror',
      '--set',
      'global.imagePullSecrets[0]=mirror',
      '--set',
      'imagePullSecrets[0].name=own',
    );
    assert.ok(
      operatorArgs(global).includes(
        '--gateway-image=europe-docker.pkg.dev/acme/mirror/callfleet/callfleet:0.1.0',
      ),
    );
    assert.ok(operatorArgs(global).includes('--gateway-image-pull-secrets=own,mirror'));
    assert.ok(!operatorArgs(render()).some((a) => a.startsWith('--gateway-image-pull-secrets')));
  });

  it('Lease named per release; log level; extra volumes; common labels on every chart object', () => {
    const docs = render(
      '--set',
      'commonLabels.team=voice',
      '--set',
      'operator.logLevel=debug',
      '--set',
      'operator.extraVolumes[0].name=ca',
      '--set',
      'operator.extraVolumes[0].configMap.name=corp-ca',
      '--set',
      'operator.extraVolumeMounts[0].name=ca',
      '--set',
      'operator.extraVolumeMounts[0].mountPath=/etc/ca',
    );
    assert.ok(operatorArgs(docs).includes('--lease-name=cf-callfleet-operator'));
    const role = docs.find((d) => d.kind === 'Role' && d.metadata.name.endsWith('leader-election'));
    assert.deepEqual(role?.rules[1].resourceNames, ['cf-callfleet-operator']);
    const pod = docs.find((d) => d.kind === 'Deployment')?.spec.template.spec;
    assert.deepEqual(
      pod.containers[0].env.find((e: { name: string }) => e.name === 'LOG_LEVEL'),
      { name: 'LOG_LEVEL', value: 'debug' },
    );
    assert.deepEqual(pod.volumes.at(-1), { name: 'ca', configMap: { name: 'corp-ca' } });
    assert.deepEqual(pod.containers[0].volumeMounts.at(-1), { name: 'ca', mountPath: '/etc/ca' });
    for (const d of docs.filter(
      (d) => d.kind !== 'CustomResourceDefinition' && d.metadata.name !== 'cf-callfleet-test',
    ))
      assert.equal(d.metadata.labels?.team, 'voice', `${d.kind}/${d.metadata.name}`);
  });

  it('CRDs protected from helm uninstall and Argo CD prune; aggregated view/edit roles; kubeVersion', () => {
    const docs = render();
    for (const crd of docs.filter((d) => d.kind === 'CustomResourceDefinition')) {
      assert.equal(crd.metadata.annotations?.['argocd.argoproj.io/sync-options'], 'Prune=false');
      assert.equal(crd.metadata.annotations?.['helm.sh/resource-policy'], 'keep');
    }
    const view = docs.find((d) => d.metadata.name === 'cf-callfleet-view');
    assert.equal(view?.metadata.labels?.['rbac.authorization.k8s.io/aggregate-to-view'], 'true');
    assert.deepEqual(view?.rules[0].verbs, ['get', 'list', 'watch']);
    const edit = docs.find((d) => d.metadata.name === 'cf-callfleet-edit');
    assert.equal(edit?.metadata.labels?.['rbac.authorization.k8s.io/aggregate-to-edit'], 'true');
    assert.ok(edit?.rules[0].verbs.includes('create'));
    assert.equal(
      render('--set', 'rbac.aggregateToUserRoles=false').some((d) => d.metadata.name === 'cf-callfleet-edit'),
      false,
    );
    assert.throws(
      () =>
        execFileSync(toolPath('helm'), ['template', 'cf', '.', '--kube-version', '1.27.0'], {
          cwd: chartDir,
          stdio: 'pipe',
        }),
      /kubeVersion: >=1.28.0-0/,
    );
  });

  it('helm test pod runs `callfleet check` with the chart image under its own small RBAC', () => {
    const docs = render();
    const pod = docs.find((d) => d.kind === 'Pod');
    assert.equal(pod?.metadata.annotations?.['helm.sh/hook'], 'test');
    assert.equal(pod?.spec.containers[0].args[0], 'check');
    assert.ok(pod?.spec.containers[0].args.includes('--deployment=cf-callfleet'));
    assert.equal(pod?.spec.containers[0].securityContext.readOnlyRootFilesystem, true);
    assert.equal(pod?.metadata.labels?.['app.kubernetes.io/component'], 'test');
    assert.equal(
      render('--set', 'tests.enabled=false').some((d) => d.kind === 'Pod'),
      false,
    );
  });

  it('operator NetworkPolicy: metrics in; DNS, API server, gateway pods and extra rules out', () => {
    const docs = render(
      '--set',
      'networkPolicy.enabled=true',
      '--set',
      'networkPolicy.apiServerCIDRs[0]=10.0.0.1/32',
    );
    const policy = docs.find((d) => d.kind === 'NetworkPolicy');
    assert.deepEqual(policy?.spec.podSelector.matchLabels['app.kubernetes.io/component'], 'operator');
    assert.equal(policy?.spec.ingress[0].ports[0].port, 8081);
    assert.deepEqual(policy?.spec.egress[1].to, [{ ipBlock: { cidr: '10.0.0.1/32' } }]);
    assert.equal(
      policy?.spec.egress[2].to[0].podSelector.matchLabels['app.kubernetes.io/component'],
      'gateway',
    );
    assert.equal(
      render().some((d) => d.kind === 'NetworkPolicy'),
      false,
    );
  });

  it('global values are accepted (subchart use); wrong new values are refused', () => {
    assert.ok(render('--set', 'global.foo=bar').length > 0);
    assert.throws(() => helm('template', 'cf', '.', '--set', 'operator.logLevel=loud'), /logLevel/);
    assert.throws(
      () => helm('template', 'cf', '.', '--set', 'networkPolicy.apiServerPorts[0]=0'),
      /apiServerPorts/,
    );
  });
});
