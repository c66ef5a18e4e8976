// The examples/ CRs (and variants that cover every ingress class) as parsed objects, and a
// deterministic render of them for tests, goldens and dry runs.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import {
  type MemoryStore,
  parseMemoryStore,
  parseVoiceAgent,
  type VoiceAgent,
} from '../../../cdk8s/api/v1alpha1/index.ts';
import type { MemoryStoreRenderContext } from '../../../cdk8s/charts/index.ts';
import { renderDocuments } from '../../../operator/cli/render.ts';

export const ROOT = new URL('../../../', import.meta.url).pathname;
export const EXAMPLES = join(ROOT, 'examples');

/** Fixed randomness: generated passwords and keys are the same on every run. */
export const fixedRandom = (size: number) => new Uint8Array(size).map((_, i) => (i * 37 + 11) % 256);
export const fixedCtx: MemoryStoreRenderContext = {
  randomBytes: fixedRandom,
  // Certificate validity (the postgres engine's TLS Secret) from a fixed clock.
  now: () => new Date('2026-01-01T00:00:00Z'),
};

export interface Example {
  /** File name without .yaml, or `variant-*` for the generated variants. */
  name: string;
  docs: Record<string, unknown>[];
}

export function readDocs(path: string): Record<string, unknown>[] {
  return parseAllDocuments(readFileSync(path, 'utf8'))
    .map((d) => d.toJS() as Record<string, unknown>)
    .filter((d) => d !== null);
}

/** A uid like the API server's, stable per name, so ownerReferences render. */
const uidFor = (name: string) =>
  `00000000-0000-4000-8000-${Buffer.from(name).toString('hex').padEnd(12, '0').slice(0, 12)}`;

function withUid(doc: Record<string, unknown>): Record<string, unknown> {
  const metadata = { ...(doc.metadata as Record<string, unknown>) };
  metadata.uid = uidFor(String(metadata.name));
  return { ...doc, metadata };
}

export function examples(): Example[] {
  return readdirSync(EXAMPLES)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => ({ name: f.replace(/\.yaml$/, ''), docs: readDocs(join(EXAMPLES, f)).map(withUid) }));
}

const echo = () => readDocs(join(EXAMPLES, 'voiceagent-echo.yaml'))[0] as { spec: Record<string, unknown> };

/** Every passthrough that fits gateway pods to a cluster (issue 17), as a platform team on EKS would set them. */
export const FITTED_SPEC = {
  image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/mirror/callfleet:0.1.0',
  imagePullPolicy: 'Always',
  imagePullSecrets: [{ name: 'ecr-pull' }],
  podTemplate: {
    priorityClassName: 'voice-critical',
    serviceAccount: {
      annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/callfleet-gateway' },
      labels: { team: 'voice' },
    },
    env: [
      { name: 'HTTPS_PROXY', value: 'http://proxy.internal:3128' },
      { name: 'NO_PROXY', value: '.svc,.cluster.local,10.0.0.0/8' },
      { name: 'NODE_EXTRA_CA_CERTS', value: '/etc/corp-ca/ca.crt' },
      { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
    ],
    envFrom: [{ configMapRef: { name: 'gateway-extra' } }],
    volumes: [{ name: 'corp-ca', configMap: { name: 'corp-ca' } }],
    volumeMounts: [{ name: 'corp-ca', mountPath: '/etc/corp-ca', readOnly: true }],
    topologySpreadConstraints: [
      { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule' },
    ],
  },
  networkPolicy: {
    extraEgress: [{ to: [{ ipBlock: { cidr: '10.0.0.10/32' } }], ports: [{ protocol: 'TCP', port: 3128 }] }],
  },
};

/** Ingress fitted to the cluster (issue 17): class names, annotation passthrough, ALB HTTPS, GKE certificates. */
export const FITTED_INGRESS = {
  nginx: {
    host: 'fitted.example.com',
    className: 'nginx',
    ingressClassName: 'internal-nginx',
    tls: { secretName: 'fitted-tls' },
    annotations: {
      'cert-manager.io/cluster-issuer': 'letsencrypt-prod',
      'external-dns.alpha.kubernetes.io/ttl': '60',
      'nginx.ingress.kubernetes.io/proxy-body-size': '1m',
    },
  },
  alb: {
    host: 'alb-https.example.com',
    className: 'alb',
    ingressClassName: 'alb-internet',
    alb: {
      certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789',
      groupName: 'voice',
    },
    annotations: {
      'alb.ingress.kubernetes.io/wafv2-acl-arn':
        'arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/voice/1',
    },
  },
  gce: {
    host: 'gce-managed.example.com',
    className: 'gce',
    gce: { staticIpName: 'voice-ip', managedCertificate: true },
    annotations: { 'kubernetes.io/ingress.allow-http': 'false' },
  },
  gateway: {
    host: 'gw-annotated.example.com',
    gatewayRef: { name: 'external' },
    annotations: { 'external-dns.alpha.kubernetes.io/hostname': 'gw-annotated.example.com' },
  },
};

/** One VoiceAgent per ingress flavour the examples do not all cover. */
export function variants(): Example[] {
  const make = (
    name: string,
    ingress: Record<string, unknown>,
    extra: Record<string, unknown> = {},
  ): Example => {
    const base = echo();
    const doc = {
      ...base,
      metadata: { name, namespace: 'voice' },
      spec: { ...base.spec, ...extra, ingress },
    };
    return { name: `variant-${name}`, docs: [withUid(doc)] };
  };
  return [
    make('nginx', { host: 'nginx.example.com', className: 'nginx', tls: { secretName: 'nginx-tls' } }),
    make(
      'alb',
      { host: 'alb.example.com', className: 'alb', tls: { secretName: 'alb-tls' } },
      { drain: { gracePeriodSeconds: 7200 }, calls: { maxDurationSeconds: 7000 } },
    ),
    make('gce', { host: 'gce.example.com', className: 'gce' }),
    make('gateway-gcp', { host: 'gcp.example.com', gatewayRef: { name: 'external' }, gatewayPolicy: 'gcp' }),
    make(
      'gateway-plain',
      { host: 'gw.example.com', gatewayRef: { name: 'external', sectionName: 'https' } },
      {
        autoscaling: { engine: 'keda', targetActiveCallsPerPod: 10 },
        monitoring: { serviceMonitor: true, prometheusRule: true, prometheusNamespace: 'monitoring' },
        drain: { preStopSeconds: 0 },
      },
    ),
    make('fitted', FITTED_INGRESS.nginx, FITTED_SPEC),
    make('alb-https', FITTED_INGRESS.alb),
    make('gce-managed', FITTED_INGRESS.gce),
    make('gateway-annotated', FITTED_INGRESS.gateway),
  ];
}

export const allExamples = () => [...examples(), ...variants()];

export function render(example: Example): KubernetesObject[] {
  const result = renderDocuments(example.docs, fixedCtx);
  if (!result.ok) throw new Error(`${example.name}: ${JSON.stringify(result.failures)}`);
  return result.objects;
}

export function parsedVoiceAgents(example: Example): VoiceAgent[] {
  return example.docs
    .filter((d) => d.kind === 'VoiceAgent')
    .map((d) => {
      const p = parseVoiceAgent(d);
      if (!p.ok) throw new Error(JSON.stringify(p.issues));
      return p.value;
    });
}

export function parsedMemoryStores(example: Example): MemoryStore[] {
  return example.docs
    .filter((d) => d.kind === 'MemoryStore')
    .map((d) => {
      const p = parseMemoryStore(d);
      if (!p.ok) throw new Error(JSON.stringify(p.issues));
      return p.value;
    });
}

// biome-ignore lint/suspicious/noExplicitAny: tests walk the wire format
export type Obj = KubernetesObject & { spec?: any; data?: any; stringData?: any };
export const find = (objects: KubernetesObject[], kind: string, name?: string) =>
  objects.filter((o) => o.kind === kind && (name === undefined || o.metadata?.name === name)) as Obj[];

/** The smallest valid VoiceAgent (echo agent, Twilio Secrets) in `namespace`, with `spec` merged over it. */
export function minimalVoiceAgent(
  name: string,
  namespace: string,
  spec: Record<string, unknown> = {},
  uid = '00000000-0000-4000-8000-000000000001',
): Record<string, unknown> {
  return {
    apiVersion: 'callfleet.io/v1alpha1',
    kind: 'VoiceAgent',
    metadata: { name, namespace, uid },
    spec: {
      agent: { provider: 'echo' },
      telephony: {
        twilio: {
          accountSidSecretRef: { name: 'twilio', key: 'account-sid' },
          authTokenSecretRef: { name: 'twilio', key: 'auth-token' },
        },
        publicBaseUrl: 'https://calls.example.com',
      },
      ...spec,
    },
  };
}
