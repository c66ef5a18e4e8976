// The chart lints and renders with the defaults and every ci/*-values.yaml, and renders what the issue asks.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { chartDir } from '../../charts/generate.ts';
import { OPERATOR_NODE_OPTIONS } from '../../operator/node-options.ts';
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

describe('charts/callfleet: gateways notify the leader (ADR 0027)', () => {
  const container = (docs: Doc[]) =>
    docs.find((d) => d.kind === 'Deployment')?.spec.template.spec.containers[0];
  const noticesService = (docs: Doc[]) =>
    docs.find((d) => d.kind === 'Service' && d.metadata.name.endsWith('-notices'));
  const noticeRule = (docs: Doc[]) =>
    docs
      .find((d) => d.kind === 'NetworkPolicy')
      ?.spec.ingress.find((r: { ports: { port: number }[] }) => r.ports.some((p) => p.port !== 8081));

  it('defaults: a Service in front of the leader only, the listener, the URL gateways get, the port', () => {
    const docs = render('--set', 'networkPolicy.enabled=true');
    const service = noticesService(docs);
    assert.equal(service?.metadata.name, 'cf-callfleet-notices');
    assert.equal(service?.metadata.namespace, 'callfleet-system');
    assert.deepEqual(service?.spec.selector, {
      'app.kubernetes.io/name': 'callfleet',
      'app.kubernetes.io/instance': 'cf',
      'app.kubernetes.io/component': 'operator',
      'callfleet.io/operator-leader': 'true',
    });
    assert.deepEqual(service?.spec.ports, [
      { name: 'notices', port: 8082, targetPort: 'notices', protocol: 'TCP' },
    ]);
    const operator = container(docs);
    assert.ok(operator.args.includes('--notice-addr=0.0.0.0:8082'), operator.args.join(' '));
    // The URL names the Service above, in the release namespace, on its port.
    assert.ok(
      operator.args.includes('--notice-url=http://cf-callfleet-notices.callfleet-system.svc:8082/notices'),
    );
    assert.deepEqual(
      operator.ports.find((p: { name: string }) => p.name === 'notices'),
      { name: 'notices', containerPort: 8082, protocol: 'TCP' },
    );
    // The operator knows its own pod (the label goes on it), and may label pods of its own namespace only.
    const env = operator.env.map((e: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }) => [
      e.name,
      e.valueFrom?.fieldRef?.fieldPath,
    ]);
    assert.deepEqual(env.slice(0, 2), [
      ['POD_NAMESPACE', 'metadata.namespace'],
      ['POD_NAME', 'metadata.name'],
    ]);
    // The operator runs with the Node options the tests and benchmarks measured.
    assert.equal(
      operator.env.find((e: { name: string }) => e.name === 'NODE_OPTIONS')?.value,
      OPERATOR_NODE_OPTIONS,
    );
    const role = docs.find((d) => d.kind === 'Role' && d.metadata.name === 'cf-callfleet-leader-label');
    assert.equal(role?.metadata.namespace, 'callfleet-system');
    assert.deepEqual(role?.rules, [
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'patch'] },
    ]);
    const binding = docs.find(
      (d) => d.kind === 'RoleBinding' && d.metadata.name === 'cf-callfleet-leader-label',
    );
    assert.deepEqual(binding?.subjects, [
      { kind: 'ServiceAccount', name: 'cf-callfleet', namespace: 'callfleet-system' },
    ]);
    // The operator's NetworkPolicy admits the gateway pods of every namespace on the notice port.
    assert.deepEqual(noticeRule(docs), {
      ports: [{ protocol: 'TCP', port: 8082 }],
      from: [
        {
          namespaceSelector: {},
          podSelector: {
            matchLabels: {
              'app.kubernetes.io/managed-by': 'callfleet-operator',
              'app.kubernetes.io/component': 'gateway',
            },
          },
        },
      ],
    });
  });

  it('namespaced scope: only the watched namespaces may send notices; the port is configurable', () => {
    const docs = render(
      '-f',
      'ci/namespaced-values.yaml',
      '--set',
      'networkPolicy.enabled=true',
      '--set',
      'operator.notices.port=9443',
    );
    assert.deepEqual(noticeRule(docs)?.from[0].namespaceSelector, {
      matchExpressions: [
        { key: 'kubernetes.io/metadata.name', operator: 'In', values: ['voice', 'voice-eu'] },
      ],
    });
    assert.equal(noticeRule(docs)?.ports[0].port, 9443);
    assert.equal(noticesService(docs)?.spec.ports[0].port, 9443);
    const args: string[] = container(docs).args;
    assert.ok(args.includes('--notice-addr=0.0.0.0:9443'));
    assert.ok(args.some((a) => a.startsWith('--notice-url=http://') && a.endsWith('.svc:9443/notices')));
    // The leader label's Role stays in the release namespace, not in the watched ones.
    assert.equal(
      docs.find((d) => d.kind === 'Role' && d.metadata.name.endsWith('leader-label'))?.metadata.namespace,
      'callfleet-system',
    );
  });

  it('operator.notices.enabled=false: no Service, flags, port or NetworkPolicy rule (the poll only)', () => {
    const docs = render('-f', 'ci/notices-off-values.yaml');
    assert.equal(noticesService(docs), undefined);
    const operator = container(docs);
    assert.ok(!operator.args.some((a: string) => a.startsWith('--notice-')), operator.args.join(' '));
    assert.deepEqual(
      operator.ports.map((p: { name: string }) => p.name),
      ['metrics'],
    );
    const policy = docs.find((d) => d.kind === 'NetworkPolicy');
    assert.equal(policy?.spec.ingress.length, 1, 'only the metrics rule');
    assert.equal(noticeRule(docs), undefined);
  });

  it('refuses a notice port that is the metrics port or out of range, and unknown keys', () => {
    assert.throws(() => render('--set', 'operator.notices.port=8081'), /notices.port must differ/);
    assert.throws(() => render('--set', 'operator.notices.port=80'), /port/);
    assert.throws(() => render('--set', 'operator.notices.enabeld=false'), /enabeld/);
  });
});
