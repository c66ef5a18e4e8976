// One pod on a process node, from scheduling to the end: pod IP, volumes, env, one local process per
// container, probes (startup gates liveness and readiness), status through pods/status, restarts
// with back-off, and termination exactly in the kubelet's order: not ready → preStop → SIGTERM →
// (grace period) → SIGKILL → delete the pod object with gracePeriodSeconds 0.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type {
  CoreV1Api,
  KubeConfig,
  V1Container,
  V1ContainerStatus,
  V1Pod,
  V1PodCondition,
  V1Probe,
} from '@kubernetes/client-node';
import { KubeError, type KubeRest } from '../../operator/kube/rest.ts';
import { CLUSTER_DNS_ENV } from './cluster-dns.ts';
import { allocatePodIp, releasePodIp } from './pod-ips.ts';
import { probeTiming, runProbe } from './pod-probes.ts';
import {
  ContainerConfigError,
  type ContainerLaunch,
  type ImageCommands,
  launchFor,
  materialiseVolumes,
  mountMap,
  resolveEnv,
  rewritePath,
} from './pod-runtime-config.ts';
import { serviceAccountEnv } from './pod-service-account.ts';
import { type Managed, startProcess } from './processes.ts';

export interface PodWorkerOptions {
  rest: KubeRest;
  core: CoreV1Api;
  imageCommands: ImageCommands;
  /** Where pod dirs and container logs go. */
  baseDir: string;
  hostIP: string;
  /** Third octet of this node's pod IPs. */
  subnet: number;
  /** First back-off after a crash (the kubelet's is 10 s; doubles up to 5 min). The first restart is immediate. */
  restartBackoffMs: number;
  /** For ServiceAccount kubeconfigs (server, CA); without it pods get no token. */
  kc?: KubeConfig;
  /** The cluster DNS table (cluster-dns.ts), passed to every container as $CALLFLEET_CLUSTER_DNS. */
  dnsFile?: string;
  onEvent?: (event: PodEvent) => void;
}

export interface PodEvent {
  pod: string;
  container?: string;
  type:
    | 'ip'
    | 'started'
    | 'ready'
    | 'not-ready'
    | 'exited'
    | 'restarting'
    | 'terminating'
    | 'killed'
    | 'deleted';
  detail?: string;
  at: number;
}

type State =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | {
      terminated: {
        exitCode: number;
        signal?: number;
        reason: string;
        startedAt?: string;
        finishedAt: string;
      };
    };

const SIGNALS: Record<string, number> = {
  SIGKILL: 9,
  SIGTERM: 15,
  SIGINT: 2,
  SIGHUP: 1,
  SIGABRT: 6,
  SIGSEGV: 11,
};
const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Binding the wildcard address inside a pod's network namespace means binding the pod IP. */
export function bindPodIp(arg: string, podIP: string): string {
  return arg.replace(/(^|[=@/])0\.0\.0\.0(?=:|$)/, `$1${podIP}`);
}

/** An exec probe/hook "inside the pod": mount paths are local dirs, and the pod's own loopback is its IP. */
function execArgv(argv: string[], mounts: [string, string][], podIP: string): string[] {
  return argv.map((a) => (a === '127.0.0.1' || a === 'localhost' ? podIP : rewritePath(a, mounts)));
}

class ContainerRun {
  readonly spec: V1Container;
  process: Managed | undefined;
  launch: ContainerLaunch | undefined;
  mounts: [string, string][] = [];
  state: State = { waiting: { reason: 'ContainerCreating' } };
  lastState: State | undefined;
  restartCount = 0;
  started = false;
  ready = false;
  /** Bumped on every (re)start; probe loops of an older generation stop. */
  generation = 0;
  startedAtMs = 0;
  constructor(spec: V1Container) {
    this.spec = spec;
  }
}

export class PodWorker {
  pod: V1Pod;
  readonly uid: string;
  readonly key: string;
  readonly #o: PodWorkerOptions;
  readonly #dir: string;
  readonly #logDir: string;
  readonly #containers: ContainerRun[];
  readonly #conditions = new Map<string, V1PodCondition>();
  #podIP: string | undefined;
  #startTime = now();
  #terminating = false;
  #finished = false;
  #writeQueue: Promise<void> = Promise.resolve();
  #writePending = false;
  /** Resolves when the pod has been torn down (after termination or when it vanished). */
  readonly done: Promise<void>;
  #resolveDone!: () => void;

  constructor(pod: V1Pod, o: PodWorkerOptions) {
    this.pod = pod;
    this.#o = o;
    this.uid = pod.metadata?.uid ?? '';
    this.key = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    this.#dir = join(
      o.baseDir,
      'pods',
      `${pod.metadata?.namespace}_${pod.metadata?.name}_${this.uid.slice(0, 8)}`,
    );
    this.#logDir = join(o.baseDir, 'logs');
    this.#containers = (pod.spec?.containers ?? []).map((c) => new ContainerRun(c));
    this.done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
    for (const c of pod.status?.conditions ?? []) this.#conditions.set(c.type, c);
  }

  get podIP(): string | undefined {
    return this.#podIP;
  }

  /** Processes of the pod's containers, by container name (tests SIGKILL them). */
  processes(): Map<string, Managed> {
    const out = new Map<string, Managed>();
    for (const c of this.#containers) if (c.process) out.set(c.spec.name, c.process);
    return out;
  }

  #event(type: PodEvent['type'], container?: string, detail?: string): void {
    this.#o.onEvent?.({ pod: this.key, container, type, detail, at: Date.now() });
  }

  async start(): Promise<void> {
    mkdirSync(this.#dir, { recursive: true });
    mkdirSync(this.#logDir, { recursive: true });
    this.#setCondition('PodScheduled', true);
    this.#setCondition('Initialized', true);
    this.#setCondition('ContainersReady', false, 'ContainersNotReady');
    this.#setCondition('Ready', false, 'ContainersNotReady');
    this.#podIP = await allocatePodIp(this.#o.subnet);
    this.#setCondition('PodReadyToStartContainers', true);
    this.#event('ip', undefined, this.#podIP);
    this.#requestWrite();
    // Volumes and env may wait for a Secret or ConfigMap to exist, as a kubelet does.
    for (;;) {
      if (this.#terminating || this.#finished) return;
      try {
        await materialiseVolumes(this.#o.rest, this.pod, this.#dir);
        break;
      } catch (error) {
        for (const c of this.#containers) c.state = this.#waitingFor(error);
        this.#requestWrite();
        await sleep(1000);
      }
    }
    await Promise.all(this.#containers.map((c) => this.#startContainer(c)));
  }

  #waitingFor(error: unknown): State {
    if (error instanceof ContainerConfigError)
      return { waiting: { reason: error.reason, message: error.message } };
    return { waiting: { reason: 'CreateContainerError', message: String(error) } };
  }

  async #startContainer(c: ContainerRun): Promise<void> {
    const podIP = this.#podIP as string;
    for (;;) {
      if (this.#terminating || this.#finished) return;
      try {
        const env = await resolveEnv(this.#o.rest, this.pod, c.spec, { podIP, hostIP: this.#o.hostIP });
        const account = this.#o.kc
          ? await serviceAccountEnv(this.#o.rest, this.#o.kc, this.pod, this.#dir)
          : {};
        c.mounts = mountMap(c.spec, this.#dir);
        const launch = launchFor(this.#o.imageCommands, c.spec, env, c.mounts);
        // The token kubeconfig is a host path already: added after the mount-path rewriting of env values.
        c.launch = {
          ...launch,
          env: { ...account, ...launch.env },
          argv: launch.argv.map((a) => bindPodIp(a, podIP)),
        };
        break;
      } catch (error) {
        c.state = this.#waitingFor(error);
        this.#requestWrite();
        await sleep(1000);
      }
    }
    const launch = c.launch as ContainerLaunch;
    const [command, ...args] = launch.argv;
    if (!command) return;
    // A container's environment is its own: nothing leaks from the test runner (NODE_TEST_CONTEXT!).
    const clean: Record<string, string | undefined> = {};
    for (const k of Object.keys(process.env)) clean[k] = undefined;
    const env = {
      ...clean,
      PATH: process.env.PATH,
      HOME: join(this.#dir, 'home'),
      HOSTNAME: this.pod.metadata?.name ?? '',
      ...launch.env,
      // The pod's "network namespace": the process binds its pod IP.
      HOST: podIP,
      ...(this.#o.dnsFile ? { [CLUSTER_DNS_ENV]: this.#o.dnsFile } : {}),
    };
    mkdirSync(env.HOME, { recursive: true });
    const logFile = join(
      this.#logDir,
      `${this.pod.metadata?.namespace}_${this.pod.metadata?.name}_${c.spec.name}.log`,
    );
    c.generation++;
    const generation = c.generation;
    c.started = false;
    c.ready = false;
    c.startedAtMs = Date.now();
    c.process = startProcess(`${this.key}/${c.spec.name}`, command, args, logFile, { env, cwd: launch.cwd });
    c.state = { running: { startedAt: now() } };
    this.#event('started', c.spec.name, String(c.process.child.pid));
    this.#updatePodReady();
    this.#requestWrite();
    const child = c.process.child;
    void c.process.exited.then(() => this.#onExit(c, generation, child.exitCode, child.signalCode));
    void this.#probeLoops(c, generation);
  }

  #onExit(c: ContainerRun, generation: number, code: number | null, signal: NodeJS.Signals | null): void {
    if (generation !== c.generation) return;
    const exitCode = code ?? 128 + (signal ? (SIGNALS[signal] ?? 0) : 0);
    const startedAt = 'running' in c.state ? c.state.running.startedAt : undefined;
    c.state = {
      terminated: {
        exitCode,
        ...(signal ? { signal: SIGNALS[signal] } : {}),
        reason: exitCode === 0 ? 'Completed' : 'Error',
        startedAt,
        finishedAt: now(),
      },
    };
    c.started = false;
    c.ready = false;
    c.generation++; // stops the probe loops
    this.#event('exited', c.spec.name, `code=${code} signal=${signal}`);
    this.#updatePodReady();
    this.#requestWrite();
    if (this.#terminating || this.#finished) return;
    const policy = this.pod.spec?.restartPolicy ?? 'Always';
    if (policy === 'Never' || (policy === 'OnFailure' && exitCode === 0)) return;
    void this.#restart(c);
  }

  async #restart(c: ContainerRun): Promise<void> {
    const delay =
      c.restartCount === 0 ? 0 : Math.min(this.#o.restartBackoffMs * 2 ** (c.restartCount - 1), 300_000);
    c.lastState = c.state;
    c.restartCount++;
    if (delay > 0) {
      c.state = {
        waiting: {
          reason: 'CrashLoopBackOff',
          message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${c.spec.name}`,
        },
      };
      this.#requestWrite();
    }
    this.#event('restarting', c.spec.name, `restartCount=${c.restartCount} delay=${delay}ms`);
    await sleep(delay);
    await this.#startContainer(c);
  }

  async #probeLoops(c: ContainerRun, generation: number): Promise<void> {
    const alive = () => generation === c.generation && !this.#finished;
    const podIP = this.#podIP as string;
    const rewrite = (argv: string[]) => ({
      argv: execArgv(argv, c.mounts, podIP),
      env: { PATH: process.env.PATH, ...c.launch?.env },
    });
    const attempt = (probe: V1Probe) => runProbe(probe, c.spec, podIP, rewrite);
    // Startup probe: liveness and readiness wait for it; failing it kills the container.
    const startup = c.spec.startupProbe;
    if (startup) {
      const ok = await this.#probeUntil(startup, attempt, alive);
      if (!alive()) return;
      if (!ok) return this.#killForRestart(c, 'startup probe failed');
    }
    c.started = true;
    this.#requestWrite();
    const readiness = c.spec.readinessProbe;
    const liveness = c.spec.livenessProbe;
    if (!readiness) {
      c.ready = true;
      this.#updatePodReady();
    }
    await Promise.all([
      readiness ? this.#readinessLoop(c, readiness, attempt, alive) : undefined,
      liveness ? this.#livenessLoop(c, liveness, attempt, alive) : undefined,
    ]);
  }

  /** Startup: probe each period until success (true) or failureThreshold failures (false). */
  async #probeUntil(
    probe: V1Probe,
    attempt: (p: V1Probe) => Promise<boolean>,
    alive: () => boolean,
  ): Promise<boolean> {
    const t = probeTiming(probe);
    await sleep(t.initialDelayMs);
    let failures = 0;
    while (alive()) {
      if (await attempt(probe)) return true;
      if (++failures >= t.failureThreshold) return false;
      await sleep(t.periodMs);
    }
    return false;
  }

  async #readinessLoop(
    c: ContainerRun,
    probe: V1Probe,
    attempt: (p: V1Probe) => Promise<boolean>,
    alive: () => boolean,
  ): Promise<void> {
    const t = probeTiming(probe);
    await sleep(t.initialDelayMs);
    let successes = 0;
    let failures = 0;
    while (alive()) {
      const ok = await attempt(probe);
      if (!alive()) return;
      if (ok) {
        failures = 0;
        if (++successes >= t.successThreshold && !c.ready && !this.#terminating) {
          c.ready = true;
          this.#event('ready', c.spec.name, `${Date.now() - c.startedAtMs}ms after start`);
          this.#updatePodReady();
        }
      } else {
        successes = 0;
        if (++failures >= t.failureThreshold && c.ready) {
          c.ready = false;
          this.#event('not-ready', c.spec.name, 'readiness probe failed');
          this.#updatePodReady();
        }
      }
      await sleep(t.periodMs);
    }
  }

  async #livenessLoop(
    c: ContainerRun,
    probe: V1Probe,
    attempt: (p: V1Probe) => Promise<boolean>,
    alive: () => boolean,
  ): Promise<void> {
    const t = probeTiming(probe);
    await sleep(t.initialDelayMs);
    let failures = 0;
    while (alive()) {
      await sleep(t.periodMs);
      if (!alive() || this.#terminating) return;
      if (await attempt(probe)) failures = 0;
      else if (++failures >= t.failureThreshold) return this.#killForRestart(c, 'liveness probe failed');
    }
  }

  /** The kubelet kills an unhealthy container with the pod's grace period; the exit handler restarts it. */
  async #killForRestart(c: ContainerRun, why: string): Promise<void> {
    if (this.#terminating) return;
    this.#event('killed', c.spec.name, why);
    const grace = (this.pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000;
    await c.process?.stop('SIGTERM', grace);
  }

  #updatePodReady(): void {
    const all = this.#containers.every((c) => c.ready) && !this.#terminating;
    this.#setCondition('ContainersReady', all, all ? undefined : 'ContainersNotReady');
    this.#setCondition('Ready', all, all ? undefined : 'ContainersNotReady');
    this.#requestWrite();
  }

  #setCondition(type: string, status: boolean, reason?: string): void {
    const value = status ? 'True' : 'False';
    const previous = this.#conditions.get(type);
    if (previous && previous.status === value && previous.reason === reason) return;
    const transition = previous?.status === value ? previous.lastTransitionTime : now();
    this.#conditions.set(type, {
      type,
      status: value,
      lastTransitionTime: transition as unknown as Date,
      ...(reason ? { reason } : {}),
      ...(reason && !status ? { message: this.#notReadyMessage() } : {}),
    });
  }

  #notReadyMessage(): string {
    const names = this.#containers.filter((c) => !c.ready).map((c) => c.spec.name);
    return `containers with unready status: [${names.join(' ')}]`;
  }

  #status(): Record<string, unknown> {
    const running = this.#containers.some((c) => 'running' in c.state);
    const allTerminated = this.#containers.every((c) => 'terminated' in c.state);
    let phase = running || this.#containers.some((c) => c.restartCount > 0) ? 'Running' : 'Pending';
    const policy = this.pod.spec?.restartPolicy ?? 'Always';
    if (allTerminated && policy !== 'Always') {
      const failed = this.#containers.some(
        (c) => 'terminated' in c.state && c.state.terminated.exitCode !== 0,
      );
      phase = failed && policy === 'Never' ? 'Failed' : failed ? 'Running' : 'Succeeded';
    }
    const containerStatuses: V1ContainerStatus[] = this.#containers.map((c) => ({
      name: c.spec.name,
      image: c.spec.image ?? '',
      imageID: `process://${c.spec.image}`,
      ...(c.process ? { containerID: `process://${c.process.child.pid}` } : {}),
      ready: c.ready,
      started: c.started,
      restartCount: c.restartCount,
      state: c.state as V1ContainerStatus['state'],
      ...(c.lastState ? { lastState: c.lastState as V1ContainerStatus['lastState'] } : {}),
    }));
    const order = ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'];
    const conditions = [...this.#conditions.values()].sort(
      (a, b) => ((order.indexOf(a.type) + 99) % 99) - ((order.indexOf(b.type) + 99) % 99),
    );
    return {
      phase,
      conditions,
      hostIP: this.#o.hostIP,
      hostIPs: [{ ip: this.#o.hostIP }],
      ...(this.#podIP ? { podIP: this.#podIP, podIPs: [{ ip: this.#podIP }] } : {}),
      startTime: this.#startTime,
      containerStatuses,
      qosClass: this.pod.status?.qosClass ?? 'Burstable',
    };
  }

  /** Status writes are serialised and coalesced: at most one in flight and one queued. */
  #requestWrite(): void {
    if (this.#writePending || this.#finished) return;
    this.#writePending = true;
    this.#writeQueue = this.#writeQueue.then(async () => {
      this.#writePending = false;
      await this.#writeStatus();
    });
  }

  async #writeStatus(): Promise<void> {
    const ns = this.pod.metadata?.namespace;
    const path = `/api/v1/namespaces/${ns}/pods/${this.pod.metadata?.name}`;
    for (let attempt = 0; attempt < 10 && !this.#finished; attempt++) {
      try {
        const current = await this.#o.rest.get<V1Pod>(path);
        if (current.metadata?.uid !== this.uid) return;
        await this.#o.rest.update(
          `${path}/status`,
          { ...current, status: this.#status() },
          'process-kubelet',
        );
        return;
      } catch (error) {
        if (error instanceof KubeError && error.status === 404) return;
        if (!(error instanceof KubeError && error.status === 409)) {
          console.error(`[process-kubelet] status of ${this.key}: ${String(error)}`);
        }
        await sleep(50 * (attempt + 1));
      }
    }
  }

  /** A newer copy of the pod from the API server. */
  update(pod: V1Pod): void {
    this.pod = pod;
    if (pod.metadata?.deletionTimestamp && !this.#terminating) void this.terminate();
  }

  /** Graceful termination: the grace period (deletionGracePeriodSeconds) covers preStop and SIGTERM. */
  async terminate(): Promise<void> {
    if (this.#terminating) return;
    this.#terminating = true;
    const grace =
      this.pod.metadata?.deletionGracePeriodSeconds ?? this.pod.spec?.terminationGracePeriodSeconds ?? 30;
    const deadline = Date.now() + grace * 1000;
    this.#event('terminating', undefined, `grace ${grace}s`);
    for (const c of this.#containers) c.ready = false;
    this.#updatePodReady();
    await Promise.all(this.#containers.map((c) => this.#stopContainer(c, deadline)));
    await this.#writeQueue;
    this.#finished = true;
    try {
      await this.#o.core.deleteNamespacedPod({
        name: this.pod.metadata?.name ?? '',
        namespace: this.pod.metadata?.namespace ?? '',
        gracePeriodSeconds: 0,
        body: { gracePeriodSeconds: 0, preconditions: { uid: this.uid } },
      });
    } catch (error) {
      const code = (error as { code?: number }).code;
      if (code !== 404) {
        console.error(`[process-kubelet] delete ${this.key}: ${String(error)}`);
      }
    }
    this.#event('deleted');
    await this.#cleanup();
  }

  async #stopContainer(c: ContainerRun, deadline: number): Promise<void> {
    const managed = c.process;
    if (!managed || !('running' in c.state)) return;
    const preStop = c.spec.lifecycle?.preStop;
    if (preStop) {
      const budget = Math.max(0, deadline - Date.now());
      const hook = async () => {
        if (preStop.sleep) await sleep(preStop.sleep.seconds * 1000);
        else if (preStop.httpGet || preStop.exec || preStop.tcpSocket) {
          await runProbe(
            { ...preStop, timeoutSeconds: Math.ceil(budget / 1000) } as V1Probe,
            c.spec,
            this.#podIP as string,
            (argv) => ({
              argv: execArgv(argv, c.mounts, this.#podIP as string),
              env: { PATH: process.env.PATH, ...c.launch?.env },
            }),
          );
        }
      };
      // The budget timer is cleared afterwards: a grace period of minutes must not keep the test alive.
      let budgetTimer: NodeJS.Timeout | undefined;
      const budgetSpent = new Promise((resolve) => {
        budgetTimer = setTimeout(resolve, budget);
      });
      await Promise.race([hook(), budgetSpent, managed.exited]);
      clearTimeout(budgetTimer);
    }
    // The kubelet gives SIGTERM at least 2 s, even when preStop used up the grace period.
    const termGrace = Math.max(deadline - Date.now(), 2000);
    await managed.stop('SIGTERM', termGrace);
  }

  /** The pod object vanished (force-deleted) or the kubelet stops: kill everything now. */
  async kill(): Promise<void> {
    this.#terminating = true;
    this.#finished = true;
    await Promise.all(this.#containers.map((c) => c.process?.stop('SIGKILL', 1000)));
    await this.#cleanup();
  }

  async #cleanup(): Promise<void> {
    this.#finished = true;
    for (const c of this.#containers) c.generation++;
    if (this.#podIP) await releasePodIp(this.#podIP);
    rmSync(this.#dir, { recursive: true, force: true });
    this.#resolveDone();
  }
}
