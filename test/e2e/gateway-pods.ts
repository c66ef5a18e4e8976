// Reads a VoiceAgent's gateway pods (API objects + each pod's own GET /status) and watches them while
// a scenario runs: which pods got deleted, how many calls each carried at that moment, how the
// Deployment's replica count moved, and the most calls each pod carried after a given instant.
import type { KubeConfig, V1Deployment, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { KubeRest } from '../../operator/kube/rest.ts';

export interface GatewayStatus {
  activeCalls: number;
  capacity: number;
  draining: boolean;
}

export const isPodReady = (p: V1Pod) =>
  p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
export const isLive = (p: V1Pod) => !p.metadata?.deletionTimestamp;

export async function gatewayStatus(pod: V1Pod): Promise<GatewayStatus | undefined> {
  const ip = pod.status?.podIP;
  if (!ip) return undefined;
  try {
    const res = await fetch(`http://${ip}:9090/status`, { signal: AbortSignal.timeout(2000) });
    return res.ok ? ((await res.json()) as GatewayStatus) : undefined;
  } catch {
    return undefined;
  }
}

export class GatewayPods {
  readonly rest: KubeRest;
  readonly namespace: string;
  readonly voiceAgent: string;

  constructor(kc: KubeConfig, namespace: string, voiceAgent: string) {
    this.rest = new KubeRest(kc, { timeoutMs: 10_000 });
    this.namespace = namespace;
    this.voiceAgent = voiceAgent;
  }

  async list(): Promise<V1Pod[]> {
    const selector = encodeURIComponent(`callfleet.io/voiceagent=${this.voiceAgent}`);
    return (
      await this.rest.get<{ items: V1Pod[] }>(
        `/api/v1/namespaces/${this.namespace}/pods?labelSelector=${selector}`,
      )
    ).items;
  }

  async deployment(): Promise<V1Deployment> {
    return await this.rest.get<V1Deployment>(
      `/apis/apps/v1/namespaces/${this.namespace}/deployments/${this.voiceAgent}`,
    );
  }

  async budgets(): Promise<V1PodDisruptionBudget[]> {
    const selector = encodeURIComponent(`callfleet.io/voiceagent=${this.voiceAgent}`);
    return (
      await this.rest.get<{ items: V1PodDisruptionBudget[] }>(
        `/apis/policy/v1/namespaces/${this.namespace}/poddisruptionbudgets?labelSelector=${selector}`,
      )
    ).items;
  }

  /** Live calls per pod name (pods that answer /status). */
  async calls(pods?: V1Pod[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const list = pods ?? (await this.list());
    await Promise.all(
      list.map(async (p) => {
        const s = await gatewayStatus(p);
        if (s) out.set(p.metadata?.name ?? '', s.activeCalls);
      }),
    );
    return out;
  }
}

export interface DeletedPod {
  name: string;
  node: string;
  /** /status activeCalls read right after the deletionTimestamp was first seen. */
  callsAtDeletion: number | undefined;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  at: number;
}

/** Polls pods + /status every `everyMs` until stopped. */
export class PodWatch {
  readonly deleted = new Map<string, DeletedPod>();
  /** Highest activeCalls seen per pod since `markFrom()` (or the start). */
  readonly peak = new Map<string, number>();
  /** Every distinct Deployment spec.replicas value, in order. */
  readonly replicaSteps: number[] = [];
  readonly last = new Map<string, { pod: V1Pod; calls?: number }>();
  /** When each pod was first seen idle after having carried calls (Date.now()). */
  readonly idleAt = new Map<string, number>();
  /** PodDisruptionBudget status changes: `+12.3 s name allowed/healthy/desired/expected`. */
  readonly pdbTimeline: string[] = [];
  readonly #pdbSeen = new Map<string, string>();
  readonly #t0 = Date.now();
  readonly #busySeen = new Set<string>();
  #stopped = false;
  #loop: Promise<void>;
  readonly #pods: GatewayPods;

  constructor(pods: GatewayPods, everyMs = 250) {
    this.#pods = pods;
    this.#loop = (async () => {
      while (!this.#stopped) {
        await this.#sample().catch(() => {});
        await new Promise((r) => setTimeout(r, everyMs));
      }
    })();
  }

  markFrom(): void {
    this.peak.clear();
  }

  async #sample(): Promise<void> {
    const [pods, deployment, pdbs] = await Promise.all([
      this.#pods.list(),
      this.#pods.deployment(),
      this.#pods.budgets(),
    ]);
    for (const b of pdbs) {
      const st = b.status;
      const text = `${st?.disruptionsAllowed}/${st?.currentHealthy}/${st?.desiredHealthy}/${st?.expectedPods}`;
      const name = b.metadata?.name ?? '';
      if (this.#pdbSeen.get(name) !== text) {
        this.#pdbSeen.set(name, text);
        const t = ((Date.now() - this.#t0) / 1000).toFixed(1);
        this.pdbTimeline.push(`+${t} s ${name} allowed/healthy/desired/expected ${text}`);
      }
    }
    const replicas = deployment.spec?.replicas;
    if (replicas !== undefined && this.replicaSteps.at(-1) !== replicas) this.replicaSteps.push(replicas);
    await Promise.all(
      pods.map(async (pod) => {
        const name = pod.metadata?.name ?? '';
        const calls = (await gatewayStatus(pod))?.activeCalls;
        this.last.set(name, { pod, calls });
        if (calls !== undefined) this.peak.set(name, Math.max(this.peak.get(name) ?? 0, calls));
        if (calls !== undefined && calls > 0) this.#busySeen.add(name);
        if (calls === 0 && this.#busySeen.has(name) && !this.idleAt.has(name)) {
          this.idleAt.set(name, Date.now());
        }
        if (pod.metadata?.deletionTimestamp && !this.deleted.has(name)) {
          this.deleted.set(name, {
            name,
            node: pod.spec?.nodeName ?? '',
            callsAtDeletion: calls,
            labels: { ...(pod.metadata.labels ?? {}) },
            annotations: { ...(pod.metadata.annotations ?? {}) },
            at: Date.now(),
          });
        }
      }),
    );
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }
}
