// The whole test fleet in one call: a real control plane, a process kubelet with a few process nodes
// (the gateway image runs `node bin/callfleet.ts gateway`), and helpers to deploy a VoiceAgent's
// rendered children and put a real nginx in front of them. For issue 7's scenario tests and the demo.
import { join } from 'node:path';
import type { V1Container } from '@kubernetes/client-node';
import { parseMemoryStore, parseVoiceAgent, type VoiceAgent } from '../../cdk8s/api/v1alpha1/index.ts';
import { renderMemoryStore, renderVoiceAgent } from '../../cdk8s/charts/index.ts';
import { type Cluster, type ClusterOptions, startCluster } from './cluster.ts';
import { type KObject, kubectlOk, waitForCrdsEstablished } from './kube-helpers.ts';
import { type FrontDoor, startNginx } from './nginx.ts';
import { type ImageCommand, type ProcessKubelet, startProcessKubelet } from './process-kubelet.ts';

const root = new URL('../../', import.meta.url).pathname;

/** The image every VoiceAgent test runs; any `…/callfleet:<tag>` image maps to the local checkout. */
export const GATEWAY_TEST_IMAGE = 'ghcr.io/callfleet/callfleet:e2e';

/**
 * Images → local commands: ENTRYPOINT/CMD of our Dockerfile, minus tini. The container's `args` replace
 * the CMD, so the chart's operator pods (`args: [operator, ...]`) run `callfleet operator`. Node processes
 * resolve Service names through the kubelet's cluster DNS table (cluster-dns-preload.ts).
 */
export function defaultImageCommands(image: string, _container: V1Container): ImageCommand | undefined {
  const repo = image.replace(/[:@].*$/, '');
  if (repo === 'callfleet' || repo.endsWith('/callfleet')) {
    return {
      command: [
        process.execPath,
        '--import',
        join(root, 'test/support/cluster-dns-preload.ts'),
        join(root, 'bin/callfleet.ts'),
      ],
      args: ['gateway'],
      cwd: root,
    };
  }
  // postgres:17 → Debian's PostgreSQL (15) behind the official image's entrypoint contract.
  if (repo === 'postgres' || repo.endsWith('/postgres')) {
    return {
      command: [process.execPath, join(root, 'test/support/postgres-container.ts')],
      args: ['postgres'],
    };
  }
  return undefined;
}

export interface FleetOptions {
  /** Process nodes (default 2, zones alternate). */
  processNodes?: number;
  /** kwok nodes besides them (default 0: every pod runs for real). */
  kwokNodes?: number;
  imageCommands?: typeof defaultImageCommands;
  restartBackoffMs?: number;
  cluster?: ClusterOptions;
}

export interface Fleet {
  cluster: Cluster;
  kubelet: ProcessKubelet;
  /** Installs the CRDs, creates the VoiceAgent and applies its rendered children (no operator). */
  deployVoiceAgent(doc: Record<string, unknown>, options?: DeployOptions): Promise<DeployedVoiceAgent>;
  /** Creates the MemoryStore and applies its StatefulSet, Services, Secrets (no CronJob, no operator). */
  deployMemoryStore(doc: Record<string, unknown>, namespace?: string): Promise<KObject[]>;
  /** nginx in front of one VoiceAgent's Ingresses. */
  frontDoor(namespace: string, voiceAgent: string): Promise<FrontDoor>;
  stop(): Promise<void>;
}

export interface DeployOptions {
  namespace?: string;
  replicas?: number;
  image?: string;
  /** Twilio Secret values (the Secret `twilio` with account-sid / auth-token is created). */
  twilio?: { accountSid: string; authToken: string };
}

export interface DeployedVoiceAgent {
  va: VoiceAgent;
  objects: KObject[];
  namespace: string;
  publicBaseUrl: string;
  authToken: string;
}

// Kinds that mean something without an operator / metrics pipeline; the HPA would fight spec.replicas.
const APPLIED_KINDS = new Set([
  'ConfigMap',
  'ServiceAccount',
  'Deployment',
  'Service',
  'Ingress',
  'PodDisruptionBudget',
  'Secret',
  'StatefulSet',
]);

export async function startFleetEnvironment(options: FleetOptions = {}): Promise<Fleet> {
  const cluster = await startCluster({
    ...options.cluster,
    controllers: true,
    nodes: options.kwokNodes ?? 0,
  });
  let kubelet: ProcessKubelet;
  const doors: FrontDoor[] = [];
  try {
    const count = options.processNodes ?? 2;
    kubelet = await startProcessKubelet({
      kc: cluster.kc,
      nodes: Array.from({ length: count }, (_, i) => `process-node-${i}`),
      imageCommands: options.imageCommands ?? defaultImageCommands,
      baseDir: join(cluster.dir, 'kubelet'),
      restartBackoffMs: options.restartBackoffMs,
    });
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  let crdsInstalled = false;
  const installCrds = async () => {
    if (crdsInstalled) return;
    await kubectlOk(cluster, ['apply', '--server-side', '-f', join(root, 'crds')]);
    await waitForCrdsEstablished(cluster, ['voiceagents.callfleet.io', 'memorystores.callfleet.io']);
    crdsInstalled = true;
  };
  return {
    cluster,
    kubelet,
    async deployVoiceAgent(doc, o = {}) {
      const namespace = o.namespace ?? 'default';
      await installCrds();
      const twilio = o.twilio ?? {
        accountSid: 'AC00000000000000000000000000000000',
        authToken: 'e2e-auth-token',
      };
      const secret = await cluster.kubectl([
        'create',
        'secret',
        'generic',
        'twilio',
        '-n',
        namespace,
        `--from-literal=account-sid=${twilio.accountSid}`,
        `--from-literal=auth-token=${twilio.authToken}`,
      ]);
      if (secret.code !== 0 && !/AlreadyExists/.test(secret.stderr)) throw new Error(secret.stderr);
      const created = JSON.parse(
        await kubectlOk(cluster, ['apply', '-n', namespace, '-o', 'json', '-f', '-'], JSON.stringify(doc)),
      ) as KObject;
      const parsed = parseVoiceAgent(created);
      if (!parsed.ok) throw new Error(`VoiceAgent does not parse: ${JSON.stringify(parsed)}`);
      const va = parsed.value;
      const rendered = renderVoiceAgent(va);
      if (!rendered.ok) throw new Error(`render failed at ${rendered.error.path}: ${rendered.error.message}`);
      const objects = (rendered.objects as unknown as KObject[]).filter((o) => APPLIED_KINDS.has(o.kind));
      const deployment = objects.find((x) => x.kind === 'Deployment') as KObject & {
        spec: { replicas?: number; template: { spec: { containers: { image: string }[] } } };
      };
      deployment.spec.replicas = o.replicas ?? 1;
      for (const c of deployment.spec.template.spec.containers) c.image = o.image ?? GATEWAY_TEST_IMAGE;
      await kubectlOk(
        cluster,
        ['apply', '-n', namespace, '--server-side', '--field-manager=callfleet-operator', '-f', '-'],
        objects.map((x) => JSON.stringify(x)).join('\n'),
      );
      const config = objects.find((x) => x.kind === 'ConfigMap')?.data?.['gateway.json'] ?? '{}';
      return {
        va,
        objects,
        namespace,
        publicBaseUrl: (JSON.parse(config) as { publicBaseUrl: string }).publicBaseUrl,
        authToken: twilio.authToken,
      };
    },
    async deployMemoryStore(doc, namespace = 'default') {
      await installCrds();
      const created = JSON.parse(
        await kubectlOk(cluster, ['apply', '-n', namespace, '-o', 'json', '-f', '-'], JSON.stringify(doc)),
      ) as KObject;
      const parsed = parseMemoryStore(created);
      if (!parsed.ok) throw new Error(`MemoryStore does not parse: ${JSON.stringify(parsed)}`);
      const rendered = renderMemoryStore(parsed.value);
      if (!rendered.ok) throw new Error(`render failed at ${rendered.error.path}: ${rendered.error.message}`);
      const objects = (rendered.objects as unknown as KObject[]).filter((o) => APPLIED_KINDS.has(o.kind));
      await kubectlOk(
        cluster,
        ['apply', '-n', namespace, '--server-side', '--field-manager=callfleet-operator', '-f', '-'],
        objects.map((x) => JSON.stringify(x)).join('\n'),
      );
      return objects;
    },
    async frontDoor(namespace, voiceAgent) {
      const door = await startNginx({
        kc: cluster.kc,
        namespace,
        ingressSelector: `callfleet.io/voiceagent=${voiceAgent}`,
      });
      doors.push(door);
      return door;
    },
    async stop() {
      for (const door of doors) await door.stop();
      await kubelet.stop();
      await cluster.stop();
    },
  };
}
