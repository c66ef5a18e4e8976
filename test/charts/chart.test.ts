// The chart lints and renders with the defaults and every ci/*-values.yaml, and renders what the issue asks.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { chartDir } from '../../charts/generate.ts';
import { toolPath } from '../cluster/tools.ts';

interface Doc {
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests
  [key: string]: any;
}

const helm = (...args: string[]) =>
  execFileSync(toolPath('helm'), args, {
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
    assert.equal(crds.length, 2);
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
    const clusterRoles = docs.filter((d) => d.kind === 'ClusterRole');
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
