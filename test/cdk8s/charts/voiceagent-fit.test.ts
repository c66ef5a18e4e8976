// Issue 17: every passthrough that fits gateway pods to a cluster shows on the children, the operator's
// defaults (the chart's image, mirror and pull secrets) apply when the spec names none, and a wrong value is
// refused with its field path (zod here; the same rules are CEL in the CRD).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseVoiceAgent, type VoiceAgent } from '../../../cdk8s/api/v1alpha1/index.ts';
import { renderVoiceAgent } from '../../../cdk8s/charts/index.ts';
import { DEFAULT_IMAGE } from '../../../cdk8s/charts/voiceagent/deployment.ts';
import { parseGatewayDefaults } from '../../../operator/cli/gateway-defaults.ts';
import { FITTED_SPEC, find, type Obj, ROOT, readDocs } from './fixtures.ts';

const echoDoc = () =>
  readDocs(`${ROOT}examples/voiceagent-echo.yaml`)[0] as { spec: Record<string, unknown> };

function voiceAgent(spec: Record<string, unknown>): VoiceAgent {
  const base = echoDoc();
  const doc = {
    ...base,
    metadata: { name: 'fit', namespace: 'voice', uid: 'u-1' },
    spec: { ...base.spec, ...spec },
  };
  const parsed = parseVoiceAgent(doc);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.value;
}

function issues(spec: Record<string, unknown>): string[] {
  const base = echoDoc();
  const parsed = parseVoiceAgent({ ...base, metadata: { name: 'fit' }, spec: { ...base.spec, ...spec } });
  assert.equal(parsed.ok, false, 'refused');
  return parsed.ok ? [] : parsed.issues.map((i) => `${i.path}: ${i.message}`);
}

function children(va: VoiceAgent, gateway = {}) {
  const result = renderVoiceAgent(va, { gateway });
  if (!result.ok) throw new Error(JSON.stringify(result.error));
  return result.objects as Obj[];
}

const gatewayDefaults = {
  image: `europe-docker.pkg.dev/acme/mirror/callfleet@sha256:${'a'.repeat(64)}`,
  imagePullPolicy: 'IfNotPresent' as const,
  imagePullSecrets: ['mirror-pull', 'other-pull'],
};

describe('gateway pods fitted to the cluster', () => {
  const objects = children(voiceAgent(FITTED_SPEC), gatewayDefaults);
  const [deployment] = find(objects, 'Deployment');
  const pod = deployment?.spec.template.spec;
  const container = pod.containers[0];

  it('image, pull policy and pull secrets from the spec win over the operator defaults', () => {
    assert.equal(container.image, FITTED_SPEC.image);
    assert.equal(container.imagePullPolicy, 'Always');
    assert.deepEqual(pod.imagePullSecrets, [{ name: 'ecr-pull' }]);
  });

  it('the gateway ServiceAccount carries the IRSA annotation and extra labels; the pod uses it', () => {
    const [sa] = find(objects, 'ServiceAccount');
    assert.equal(
      sa?.metadata?.annotations?.['eks.amazonaws.com/role-arn'],
      'arn:aws:iam::123456789012:role/callfleet-gateway',
    );
    assert.equal(sa?.metadata?.labels?.team, 'voice');
    assert.equal(sa?.metadata?.labels?.['app.kubernetes.io/managed-by'], 'callfleet-operator');
    assert.equal(pod.serviceAccountName, sa?.metadata?.name);
  });

  it('extra env comes after the operator’s own; envFrom, volumes and mounts are added, the own ones kept', () => {
    const names = container.env.map((e: { name: string }) => e.name);
    assert.deepEqual(names.slice(-4), ['HTTPS_PROXY', 'NO_PROXY', 'NODE_EXTRA_CA_CERTS', 'NODE_NAME']);
    assert.ok(names.includes('PORT') && names.includes('CALLFLEET_GATEWAY_CONFIG'));
    assert.deepEqual(container.env.at(-1), {
      name: 'NODE_NAME',
      valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } },
    });
    assert.deepEqual(container.envFrom, [{ configMapRef: { name: 'gateway-extra' } }]);
    assert.deepEqual(
      pod.volumes.map((v: { name: string }) => v.name),
      ['config', 'tmp', 'corp-ca'],
    );
    assert.deepEqual(pod.volumes.at(-1), { name: 'corp-ca', configMap: { name: 'corp-ca' } });
    assert.deepEqual(container.volumeMounts.at(-1), {
      name: 'corp-ca',
      mountPath: '/etc/corp-ca',
      readOnly: true,
    });
    assert.ok(container.volumeMounts.some((m: { mountPath: string }) => m.mountPath === '/etc/callfleet'));
  });

  it('priority class and the topology spread override (with the gateway selector filled in)', () => {
    assert.equal(pod.priorityClassName, 'voice-critical');
    assert.deepEqual(pod.topologySpreadConstraints, [
      {
        maxSkew: 1,
        topologyKey: 'topology.kubernetes.io/zone',
        whenUnsatisfiable: 'DoNotSchedule',
        labelSelector: { matchLabels: deployment?.spec.selector.matchLabels },
      },
    ]);
  });

  it('the NetworkPolicy keeps its own egress and adds the proxy rule last', () => {
    const [policy] = find(objects, 'NetworkPolicy');
    const egress = policy?.spec.egress;
    assert.deepEqual(egress.at(-1), {
      to: [{ ipBlock: { cidr: '10.0.0.10/32' } }],
      ports: [{ protocol: 'TCP', port: 3128 }],
    });
    assert.ok(egress.some((r: { ports?: { port: number }[] }) => r.ports?.some((p) => p.port === 443)));
  });
});

describe('gateway image defaults', () => {
  it('a VoiceAgent without image gets the operator’s image, pull policy and pull secrets', () => {
    const [deployment] = find(children(voiceAgent({}), gatewayDefaults), 'Deployment');
    const pod = deployment?.spec.template.spec;
    assert.equal(pod.containers[0].image, gatewayDefaults.image);
    assert.deepEqual(pod.imagePullSecrets, [{ name: 'mirror-pull' }, { name: 'other-pull' }]);
  });

  it('without operator defaults: the built-in image, no pull secrets, the default spread', () => {
    const [deployment] = find(children(voiceAgent({})), 'Deployment');
    const pod = deployment?.spec.template.spec;
    assert.equal(pod.containers[0].image, DEFAULT_IMAGE);
    assert.equal(pod.containers[0].imagePullPolicy, 'IfNotPresent');
    assert.equal(pod.imagePullSecrets, undefined);
    assert.deepEqual(
      pod.topologySpreadConstraints.map((c: { topologyKey: string }) => c.topologyKey),
      ['topology.kubernetes.io/zone', 'kubernetes.io/hostname'],
    );
  });

  it('operator flags are validated with the flag named', () => {
    assert.deepEqual(parseGatewayDefaults({ image: 'reg.example.com:5000/a/b:1.2', pullSecrets: 'a, b' }), {
      ok: true,
      value: { image: 'reg.example.com:5000/a/b:1.2', imagePullSecrets: ['a', 'b'] },
    });
    assert.equal(parseGatewayDefaults({ image: 'UPPER/case' }).ok, false);
    const bad = parseGatewayDefaults({ image: 'has space:1' });
    assert.ok(!bad.ok && bad.error.startsWith('--gateway-image:'));
    const policy = parseGatewayDefaults({ pullPolicy: 'Sometimes' });
    assert.ok(!policy.ok && policy.error.startsWith('--gateway-image-pull-policy:'));
    const secret = parseGatewayDefaults({ pullSecrets: 'ok,Not_OK' });
    assert.ok(!secret.ok && secret.error.includes('"Not_OK"'));
  });
});

describe('passthroughs refuse what would break the gateway', () => {
  it('reserved env names', () => {
    for (const name of ['PORT', 'TWILIO_AUTH_TOKEN', 'CALLFLEET_GATEWAY_CONFIG']) {
      assert.ok(
        issues({ podTemplate: { env: [{ name, value: 'x' }] } }).some((i) =>
          i.startsWith('spec.podTemplate.env:'),
        ),
        name,
      );
    }
  });

  it('reserved volumes and mount paths; a mount must name a volume', () => {
    assert.ok(
      issues({ podTemplate: { volumes: [{ name: 'tmp', emptyDir: {} }] } }).some((i) =>
        i.startsWith('spec.podTemplate.volumes:'),
      ),
    );
    const mountIssues = issues({ podTemplate: { volumeMounts: [{ name: 'missing', mountPath: '/tmp' }] } });
    assert.ok(mountIssues.some((i) => i.includes('/etc/callfleet and /tmp')));
    assert.ok(mountIssues.some((i) => i.includes('must name a volume')));
  });

  it('pull secrets are Secret names; env names are environment variable names; egress rules a list', () => {
    assert.ok(
      issues({ imagePullSecrets: [{ name: 'Bad_Name' }] }).some((i) =>
        i.startsWith('spec.imagePullSecrets[0].name'),
      ),
    );
    assert.ok(
      issues({ podTemplate: { env: [{ name: 'A B', value: 'x' }] } }).some((i) =>
        i.startsWith('spec.podTemplate.env[0].name'),
      ),
    );
    assert.ok(
      issues({ networkPolicy: { extraEgress: 'all' } }).some((i) =>
        i.startsWith('spec.networkPolicy.extraEgress'),
      ),
    );
  });
});
