// A kubelet for tests that runs pods as local processes. It owns a few Node objects (without kwok's
// annotation, so kwok leaves them alone), keeps them Ready (status conditions + a Lease in
// kube-node-lease), and polls the pods bound to them: each new pod gets a PodWorker (pod IP, volumes,
// env, processes, probes, status); a pod with a deletionTimestamp is terminated the kubelet's way.
// The real endpointslice controller turns pod IPs + readiness into EndpointSlices. See ADR 0005.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { KubeError, KubeRest } from '../../operator/kube/rest.ts';
import { microTime } from '../../operator/runtime/leader-election.ts';
import { writeClusterDns } from './cluster-dns.ts';
import type { ImageCommands } from './pod-runtime-config.ts';
import { type PodEvent, PodWorker } from './pod-worker.ts';
import type { Managed } from './processes.ts';

export type { ImageCommand, ImageCommands } from './pod-runtime-config.ts';
export type { PodEvent } from './pod-worker.ts';

export interface ProcessKubeletOptions {
  kc: KubeConfig;
  /** Names of the Node objects this kubelet creates and serves. */
  nodes: string[];
  imageCommands: ImageCommands;
  baseDir?: string;
  /** Pod list interval (default 250 ms). */
  pollMs?: number;
  /** First crash back-off after the immediate first restart (default 10 s, as the kubelet). */
  restartBackoffMs?: number;
  /** First octet pair is 198.18; node i uses 198.18.<subnetBase + i>.x (default 1). */
  subnetBase?: number;
  onEvent?: (event: PodEvent) => void;
}

export interface ProcessKubelet {
  nodes: string[];
  baseDir: string;
  /** Live workers by pod key `namespace/name`. */
  pods(): Map<string, PodWorker>;
  /** Every pod event so far (start, ready, exit, terminate...), for figures and assertions. */
  events: PodEvent[];
  /** The container processes of a pod, by container name. */
  processesOf(namespace: string, name: string): Map<string, Managed>;
  stop(): Promise<void>;
}

const HOST_IP = '127.0.0.1';
const LEASE_SECONDS = 40;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startProcessKubelet(options: ProcessKubeletOptions): Promise<ProcessKubelet> {
  const rest = new KubeRest(options.kc, { timeoutMs: 10_000 });
  const core = options.kc.makeApiClient(CoreV1Api);
  const baseDir = options.baseDir ?? mkdtempSync(join(tmpdir(), 'callfleet-kubelet-'));
  mkdirSync(baseDir, { recursive: true });
  const subnetBase = options.subnetBase ?? 1;
  const events: PodEvent[] = [];
  const workers = new Map<string, PodWorker>(); // by uid
  const nodeIndex = new Map(options.nodes.map((n, i) => [n, i]));
  let stopped = false;

  for (const [i, name] of options.nodes.entries()) await registerNode(rest, name, i);
  const dnsFile = join(baseDir, 'cluster-dns.json');
  await writeClusterDns(rest, dnsFile);
  await Promise.all(options.nodes.map((name) => renewLease(rest, name)));

  const heartbeat = setInterval(() => {
    for (const name of options.nodes) {
      void renewLease(rest, name).catch((e) => console.error(`[process-kubelet] lease ${name}: ${e}`));
    }
  }, 10_000);
  const statusBeat = setInterval(() => {
    for (const name of options.nodes) {
      void postNodeStatus(rest, name).catch((e) => console.error(`[process-kubelet] node ${name}: ${e}`));
    }
  }, 60_000);

  const sync = async () => {
    const list = await rest.get<{ items: V1Pod[] }>('/api/v1/pods');
    const seen = new Set<string>();
    for (const pod of list.items) {
      const node = pod.spec?.nodeName;
      const uid = pod.metadata?.uid;
      if (!node || !uid || !nodeIndex.has(node)) continue;
      seen.add(uid);
      const existing = workers.get(uid);
      if (existing) {
        existing.update(pod);
        continue;
      }
      const worker = new PodWorker(pod, {
        rest,
        core,
        imageCommands: options.imageCommands,
        baseDir,
        hostIP: HOST_IP,
        subnet: subnetBase + (nodeIndex.get(node) ?? 0),
        restartBackoffMs: options.restartBackoffMs ?? 10_000,
        kc: options.kc,
        dnsFile,
        onEvent: (event) => {
          events.push(event);
          options.onEvent?.(event);
        },
      });
      workers.set(uid, worker);
      void worker.done.then(() => workers.delete(uid));
      if (pod.metadata?.deletionTimestamp) {
        void worker.terminate();
      } else {
        void worker.start().catch((error) => console.error(`[process-kubelet] ${worker.key}: ${error}`));
      }
    }
    for (const [uid, worker] of workers) if (!seen.has(uid)) void worker.kill();
  };

  let rounds = 0;
  const loop = (async () => {
    while (!stopped) {
      await sync().catch((error) => {
        if (!stopped) console.error(`[process-kubelet] sync: ${String(error)}`);
      });
      if (++rounds % 4 === 0) {
        await writeClusterDns(rest, dnsFile).catch((error) => {
          if (!stopped) console.error(`[process-kubelet] cluster DNS: ${String(error)}`);
        });
      }
      await sleep(options.pollMs ?? 250);
    }
  })();

  return {
    nodes: options.nodes,
    baseDir,
    events,
    pods: () => new Map([...workers.values()].map((w) => [w.key, w])),
    processesOf(namespace, name) {
      for (const w of workers.values()) if (w.key === `${namespace}/${name}`) return w.processes();
      return new Map();
    },
    async stop() {
      stopped = true;
      clearInterval(heartbeat);
      clearInterval(statusBeat);
      await loop;
      await Promise.all([...workers.values()].map((w) => w.kill()));
    },
  };
}

async function registerNode(rest: KubeRest, name: string, index: number): Promise<void> {
  const body = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'topology.kubernetes.io/zone': `zone-${String.fromCharCode(97 + (index % 2))}`,
        type: 'process',
      },
    },
  };
  try {
    await rest.create('/api/v1/nodes', body);
  } catch (error) {
    if (!(error instanceof KubeError && error.status === 409)) throw error;
  }
  await postNodeStatus(rest, name);
}

async function postNodeStatus(rest: KubeRest, name: string): Promise<void> {
  const at = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const condition = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: at,
    lastTransitionTime: at,
  });
  const capacity = { cpu: '32', memory: '256Gi', pods: '110', 'ephemeral-storage': '100Gi' };
  await rest.mergePatch(`/api/v1/nodes/${name}/status`, {
    status: {
      capacity,
      allocatable: capacity,
      addresses: [
        { type: 'InternalIP', address: HOST_IP },
        { type: 'Hostname', address: name },
      ],
      conditions: [
        condition('Ready', 'True', 'KubeletReady', 'process kubelet is posting ready status'),
        condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'ok'),
        condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'ok'),
        condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'ok'),
      ],
      nodeInfo: {
        architecture: 'amd64',
        operatingSystem: 'linux',
        kubeletVersion: 'v1.34.4-process',
        kubeProxyVersion: '',
        containerRuntimeVersion: 'process://local',
        kernelVersion: '',
        osImage: 'process kubelet',
        bootID: '',
        machineID: '',
        systemUUID: '',
      },
    },
  });
}

async function renewLease(rest: KubeRest, name: string): Promise<void> {
  const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${name}`;
  const spec = {
    holderIdentity: name,
    leaseDurationSeconds: LEASE_SECONDS,
    renewTime: microTime(new Date()),
  };
  const existing = await rest.getOrNull<{ metadata: Record<string, unknown> }>(path);
  if (existing) {
    await rest.update(path, { ...existing, spec });
    return;
  }
  await rest.create('/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace: 'kube-node-lease' },
    spec,
  });
}
