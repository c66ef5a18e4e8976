// A real Kubernetes control plane on 127.0.0.1 for tests: etcd + kube-apiserver, optionally
// kube-controller-manager + kube-scheduler + kwok with fake nodes. Each start gets a fresh temp dir,
// free ports and its own PKI; everything is torn down on stop() and when the test process exits.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { toolPath } from '../cluster/tools.ts';
import { createPki, type Pki } from './certs.ts';
import { routeLocally } from './local-route.ts';
import { freePort } from './ports.ts';
import { type Managed, startProcess, waitFor } from './processes.ts';

export interface ClusterOptions {
  /** Also run kube-controller-manager, kube-scheduler and kwok (needed for Deployments, GC, pods). */
  controllers?: boolean;
  /** Fake kwok nodes to create (with controllers). Default 2, spread over two zones. */
  nodes?: number;
  /** Keep the processes running after this process exits (`make cluster`). */
  detached?: boolean;
  /** Parent directory for the cluster's temp dir. */
  baseDir?: string;
  /** Pods each fake node takes (default 110, the kubelet's). */
  podsPerNode?: number;
  /** Client QPS of kube-controller-manager and kube-scheduler (default theirs: 20 and 50); scale tests raise it. */
  controllerQps?: number;
  /**
   * kwok's pod IP range. Default: a random /16 of 127/8 (no setup; the EndpointSlice controller refuses
   * such addresses). Any other range is made local for the cluster's life (test/support/local-route.ts).
   */
  podCidr?: string;
  /**
   * One kwok per fake node (`kwok-0`, `kwok-1`, …), each watching only its node's pods, as kubelets do (an
   * indexed watch), with a slice of `podCidr` of its own. Default: one kwok watching every pod, which at
   * thousands of pods falls behind its watch on a busy machine (docs/benchmarks.md, twelfth session).
   */
  kwokPerNode?: boolean;
  /** kube-controller-manager controllers to leave off (its `--controllers=*,-<name>`). */
  disabledControllers?: string[];
  /** GOGC of kube-apiserver (Go's default: 100), as large clusters tune it (docs/benchmarks.md). */
  apiserverGogc?: number;
  /** kube-apiserver serves /debug/pprof (benchmarks take its CPU profile: apiserver-profile.ts). */
  apiserverProfiling?: boolean;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Cluster {
  dir: string;
  server: string;
  kubeconfigPath: string;
  kc: KubeConfig;
  /** Environment for child processes (KUBECONFIG). */
  env: Record<string, string>;
  kubectl(args: string[], options?: { input?: string }): Promise<KubectlResult>;
  /** Stops and starts kube-apiserver on the same port (watches must recover). */
  restartApiServer(): Promise<void>;
  /** The process of each component, by name. */
  processes: Map<string, Managed>;
  stop(): Promise<void>;
}

interface Ports {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
  controllerManager: number;
  scheduler: number;
  kwok: number;
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const baseDir = options.baseDir ?? tmpdir();
  mkdirSync(baseDir, { recursive: true });
  const dir = mkdtempSync(join(baseDir, 'callfleet-cluster-'));
  const pki = createPki(dir);
  const ports: Ports = {
    etcdClient: await freePort(),
    etcdPeer: await freePort(),
    apiserver: await freePort(),
    controllerManager: await freePort(),
    scheduler: await freePort(),
    kwok: await freePort(),
  };
  const server = `https://127.0.0.1:${ports.apiserver}`;
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, kubeconfigYaml(server, pki));
  const processes = new Map<string, Managed>();
  const start = (name: string, command: string, args: string[], env?: Record<string, string>) => {
    const managed = startProcess(name, command, args, join(dir, `${name}.log`), {
      detached: options.detached,
      env,
    });
    processes.set(name, managed);
    return managed;
  };

  const apiserverArgs = kubeApiserverArgs(dir, ports, pki, options.apiserverProfiling === true);
  const apiserverEnv = options.apiserverGogc ? { GOGC: String(options.apiserverGogc) } : undefined;
  const podCidr = options.podCidr ?? `127.${100 + Math.floor(Math.random() * 100)}.0.1/16`;
  const unroute = options.controllers && !podCidr.startsWith('127.') ? routeLocally(podCidr) : () => {};
  const stop = async () => {
    for (const managed of [...processes.values()].reverse()) await managed.stop('SIGTERM', 5000);
    unroute();
    if (!options.detached) rmSync(dir, { recursive: true, force: true });
  };

  try {
    start('etcd', toolPath('etcd'), etcdArgs(dir, ports));
    await waitFor('etcd', () => httpOk(`http://127.0.0.1:${ports.etcdClient}/health`), 30_000);
    start('kube-apiserver', toolPath('kubernetes', 'kube-apiserver'), apiserverArgs, apiserverEnv);
    await waitForReadyz(server, pki);
    if (options.controllers) {
      start('kube-controller-manager', toolPath('kubernetes', 'kube-controller-manager'), [
        ...controllerManagerArgs(kubeconfigPath, ports, pki),
        ...qpsArgs(options.controllerQps),
        ...(options.disabledControllers?.length
          ? [`--controllers=*,${options.disabledControllers.map((c) => `-${c}`).join(',')}`]
          : []),
      ]);
      start('kube-scheduler', toolPath('kubernetes', 'kube-scheduler'), [
        ...schedulerArgs(kubeconfigPath, ports),
        ...qpsArgs(options.controllerQps),
      ]);
      if (!options.kwokPerNode)
        start('kwok', toolPath('kwok'), kwokArgs(kubeconfigPath, ports.kwok, podCidr));
      start('pv-provisioner', process.execPath, [
        new URL('./pv-provisioner.ts', import.meta.url).pathname,
        kubeconfigPath,
      ]);
    }
  } catch (error) {
    const logs = [...processes.values()]
      .map((p) => `--- ${p.name} (tail) ---\n${tail(p.logFile)}`)
      .join('\n');
    await stop();
    throw new Error(`control plane failed to start: ${String(error)}\n${logs}`);
  }

  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const env = { KUBECONFIG: kubeconfigPath };

  if (options.controllers) {
    const nodes = await createFakeNodes(kc, options.nodes ?? 2, undefined, options.podsPerNode);
    if (options.kwokPerNode) {
      const cidrs = splitCidr(podCidr, nodes.length, options.podsPerNode ?? 110);
      for (const [i, node] of nodes.entries()) {
        start(
          `kwok-${i}`,
          toolPath('kwok'),
          kwokArgs(kubeconfigPath, await freePort(), cidrs[i] as string, node),
        );
      }
    }
    await waitFor('the default ServiceAccount', async () => {
      const sa = await kc
        .makeApiClient(CoreV1Api)
        .readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
      return Boolean(sa.metadata?.name);
    });
  }

  return {
    dir,
    server,
    kubeconfigPath,
    kc,
    env,
    processes,
    stop,
    kubectl: (args, opts) => kubectl(kubeconfigPath, args, opts?.input),
    async restartApiServer() {
      await processes.get('kube-apiserver')?.stop('SIGTERM', 10_000);
      start('kube-apiserver', toolPath('kubernetes', 'kube-apiserver'), apiserverArgs, apiserverEnv);
      await waitForReadyz(server, pki);
    },
  };
}

function etcdArgs(dir: string, ports: Ports): string[] {
  const client = `http://127.0.0.1:${ports.etcdClient}`;
  const peer = `http://127.0.0.1:${ports.etcdPeer}`;
  return [
    `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=default=${peer}`,
    '--unsafe-no-fsync',
    '--log-level=warn',
  ];
}

function kubeApiserverArgs(dir: string, ports: Ports, pki: Pki, profiling: boolean): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${ports.apiserver}`,
    `--cert-dir=${dir}`,
    `--tls-cert-file=${pki.serverCert}`,
    `--tls-private-key-file=${pki.serverKey}`,
    `--client-ca-file=${pki.caCert}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    '--authorization-mode=RBAC',
    '--allow-privileged=true',
    '--endpoint-reconciler-type=none',
    `--profiling=${profiling}`,
    '--v=1',
  ];
}

function qpsArgs(qps: number | undefined): string[] {
  return qps ? [`--kube-api-qps=${qps}`, `--kube-api-burst=${qps * 2}`] : [];
}

function controllerManagerArgs(kubeconfigPath: string, ports: Ports, pki: Pki): string[] {
  return [
    `--kubeconfig=${kubeconfigPath}`,
    `--authentication-kubeconfig=${kubeconfigPath}`,
    `--authorization-kubeconfig=${kubeconfigPath}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${ports.controllerManager}`,
    '--leader-elect=false',
    `--service-account-private-key-file=${pki.serviceAccountKey}`,
    `--root-ca-file=${pki.caCert}`,
    `--cluster-signing-cert-file=${pki.caCert}`,
    `--cluster-signing-key-file=${pki.caKey}`,
    '--use-service-account-credentials=false',
    // A busy 2-core machine can starve heartbeats; fake nodes should not flap to NotReady.
    '--node-monitor-grace-period=300s',
    '--profiling=false',
    '--v=1',
  ];
}

function schedulerArgs(kubeconfigPath: string, ports: Ports): string[] {
  return [
    `--kubeconfig=${kubeconfigPath}`,
    `--authentication-kubeconfig=${kubeconfigPath}`,
    `--authorization-kubeconfig=${kubeconfigPath}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${ports.scheduler}`,
    '--leader-elect=false',
    '--profiling=false',
    '--v=1',
  ];
}

export const kwokNodeAnnotation = 'kwok.x-k8s.io/node';

function kwokArgs(kubeconfigPath: string, port: number, podCidr: string, singleNode?: string): string[] {
  return [
    `--kubeconfig=${kubeconfigPath}`,
    '--manage-all-nodes=false',
    singleNode
      ? `--manage-single-node=${singleNode}`
      : `--manage-nodes-with-annotation-selector=${kwokNodeAnnotation}=fake`,
    // Fake pods and nodes get local addresses (loopback, or `podCidr` routed to lo): anything that dials
    // them (the operator's call tracker polls every gateway pod) is refused locally instead of sending
    // packets off this machine. By default a /16 of its own per cluster (127.100–199.x.y): concurrent
    // clusters' pods never share an address, so a simulator serving one cluster's pod IPs
    // (test/simulator/gateway-fleet.ts) never collides.
    `--cidr=${podCidr}`,
    '--node-ip=127.99.0.1',
    `--server-address=127.0.0.1:${port}`,
    // Heartbeats through node Leases keep the fake nodes Ready (status patches alone arrive too seldom).
    '--node-lease-duration-seconds=40',
  ];
}

/**
 * `count` disjoint slices of an IPv4 CIDR (`a.b.c.d/n`), each with room for `perSlice` addresses, written
 * as kwok takes them (first usable address / prefix).
 */
export function splitCidr(cidr: string, count: number, perSlice: number): string[] {
  const [ip = '', prefixText = ''] = cidr.split('/');
  const prefix = Number(prefixText);
  const base = ipv4Number(ip);
  const sliceBits = Math.ceil(Math.log2(perSlice + 2));
  if (32 - prefix < sliceBits + Math.ceil(Math.log2(count)))
    throw new Error(`${cidr} cannot hold ${count} slices of ${perSlice} addresses`);
  const network = prefix === 0 ? 0 : (base & (~0 << (32 - prefix))) >>> 0;
  const text = (n: number) => [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join('.');
  return Array.from(
    { length: count },
    (_, i) => `${text(network + i * 2 ** sliceBits + 1)}/${32 - sliceBits}`,
  );
}

/** An IPv4 address as an unsigned 32-bit number. */
export function ipv4Number(ip: string): number {
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0) >>> 0;
}

function nodeResources(pods: number): Record<string, string> {
  return {
    cpu: String(Math.max(32, Math.ceil(pods / 3))),
    memory: `${Math.max(256, Math.ceil(pods / 3))}Gi`,
    pods: String(pods),
  };
}

/** Nodes that kwok keeps Ready; zones alternate so topology spread has something to spread over. */
export async function createFakeNodes(
  kc: KubeConfig,
  count: number,
  prefix = 'kwok-node',
  podsPerNode = 110,
): Promise<string[]> {
  const core = kc.makeApiClient(CoreV1Api);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${prefix}-${i}`;
    names.push(name);
    await core.createNode({
      body: {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name,
          annotations: { [kwokNodeAnnotation]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
          labels: {
            'kubernetes.io/hostname': name,
            'kubernetes.io/os': 'linux',
            'kubernetes.io/arch': 'amd64',
            'topology.kubernetes.io/zone': `zone-${String.fromCharCode(97 + (i % 2))}`,
            type: 'kwok',
          },
        },
        status: {
          // Room for podsPerNode gateway pods (250m CPU, 256Mi each), and never less than before.
          allocatable: nodeResources(podsPerNode),
          capacity: nodeResources(podsPerNode),
        },
      },
    });
  }
  return names;
}

function kubeconfigYaml(server: string, pki: Pki): string {
  const b64 = (path: string) => readFileSync(path).toString('base64');
  return `apiVersion: v1
kind: Config
clusters:
- name: callfleet-test
  cluster:
    server: ${server}
    certificate-authority-data: ${b64(pki.caCert)}
users:
- name: admin
  user:
    client-certificate-data: ${b64(pki.adminCert)}
    client-key-data: ${b64(pki.adminKey)}
contexts:
- name: callfleet-test
  context: {cluster: callfleet-test, user: admin, namespace: default}
current-context: callfleet-test
`;
}

function waitForReadyz(server: string, pki: Pki): Promise<void> {
  const tls = {
    ca: readFileSync(pki.caCert),
    cert: readFileSync(pki.adminCert),
    key: readFileSync(pki.adminKey),
  };
  return waitFor(
    'kube-apiserver /readyz',
    () =>
      new Promise((resolve, reject) => {
        const req = request(`${server}/readyz`, { ...tls, timeout: 2000 }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        });
        req.on('error', reject);
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.end();
      }),
    60_000,
    200,
  );
}

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return res.ok;
}

function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export async function kubectl(
  kubeconfigPath: string,
  args: string[],
  input?: string,
): Promise<KubectlResult> {
  const { code, stdout, stderr } = await kubectlBytes(kubeconfigPath, args, input);
  return { code, stdout: stdout.toString(), stderr: stderr.toString() };
}

/** `kubectl` with its output as bytes (a profile, an archive). */
export function kubectlBytes(
  kubeconfigPath: string,
  args: string[],
  input?: string,
): Promise<{ code: number; stdout: Buffer; stderr: Buffer }> {
  return new Promise((resolve) => {
    const child = execFile(
      'kubectl',
      args,
      {
        env: { ...process.env, KUBECONFIG: kubeconfigPath },
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'buffer',
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}
