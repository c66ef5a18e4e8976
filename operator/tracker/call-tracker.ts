// The call tracker: polls every gateway pod's /status (bounded concurrency), keeps the busy label,
// pod-deletion-cost, safe-to-evict and karpenter.sh/do-not-disrupt annotations on each pod, takes pods on cordoned nodes out of the
// Services, and aggregates live calls per VoiceAgent for status and busy-aware scaling.
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { VOICEAGENT_LABEL } from '../../cdk8s/charts/labels.ts';
import { INTERNAL_PORT, INTERNAL_PORT_NAME } from '../../cdk8s/charts/voiceagent/model.ts';
import { type GatewayStatus, parseGatewayStatus } from '../../voice-gateway/status.ts';
import { objectKey, objectPath } from '../kube/resources.ts';
import type { KubeRest } from '../kube/rest.ts';
import type { Informer } from '../runtime/informer.ts';
import { forEachLimited } from '../runtime/limit.ts';
import { desiredMarks, marksPatch } from './pod-marks.ts';

export type { GatewayStatus };

interface PodState extends GatewayStatus {
  seenAt: number;
  templateHash?: string;
}

export interface CallCounts {
  total: number;
  failed: number;
}

export interface FleetSummary {
  activeCalls: number;
  drainingReplicas: number;
  /** Pods not draining that carry at least one call (protected from scale-down). */
  busyReplicas: number;
  idlePods: number;
  /** Ready pods without a call (what the idle PodDisruptionBudget may evict from). */
  idleReadyPods: number;
  /** Pods not terminating: more than the Deployment's replicas means removals are still pending. */
  livePods: number;
  /** Every running pod of the fleet was polled within the last two intervals. */
  fresh: boolean;
}

export interface CallTrackerOptions {
  rest: KubeRest;
  pods: Informer<V1Pod>;
  nodes?: Informer<V1Node>;
  log: Logger;
  intervalMs?: number;
  concurrency?: number;
  timeoutMs?: number;
  /** Called with `namespace/name` of a VoiceAgent whose summary changed. */
  onChange(voiceAgentKey: string): void;
  onPoll?(result: 'ok' | 'error'): void;
}

export class CallTracker {
  readonly #options: Required<Omit<CallTrackerOptions, 'nodes' | 'onPoll'>> & CallTrackerOptions;
  readonly #states = new Map<string, PodState>();
  readonly #summaries = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(options: CallTrackerOptions) {
    this.#options = { intervalMs: 5000, concurrency: 16, timeoutMs: 2000, ...options };
  }

  get intervalMs(): number {
    return this.#options.intervalMs;
  }

  start(): void {
    const loop = async () => {
      if (this.#stopped) return;
      this.#running = this.pollOnce().catch((error) =>
        this.#options.log.warn({ err: String(error) }, 'call poll failed'),
      );
      await this.#running;
      if (!this.#stopped) this.#timer = setTimeout(loop, this.#options.intervalMs);
    };
    void loop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  summary(namespace: string, voiceAgent: string, now = Date.now()): FleetSummary {
    const summary: FleetSummary = {
      activeCalls: 0,
      drainingReplicas: 0,
      busyReplicas: 0,
      idlePods: 0,
      idleReadyPods: 0,
      livePods: 0,
      fresh: true,
    };
    const maxAge = 2 * this.#options.intervalMs + this.#options.timeoutMs;
    for (const pod of this.#fleet(namespace, voiceAgent)) {
      const state = this.#states.get(objectKey(pod));
      const current = state && now - state.seenAt <= maxAge ? state : undefined;
      summary.activeCalls += current?.activeCalls ?? 0;
      if (!pod.metadata?.deletionTimestamp) summary.livePods++;
      if (pod.metadata?.deletionTimestamp || current?.draining) summary.drainingReplicas++;
      // A pod that is not running yet carries no call: removing it is always safe.
      else if (!pod.status?.podIP || pod.status.phase !== 'Running') summary.idlePods++;
      else if (!current) summary.fresh = false;
      else if (current.activeCalls > 0) summary.busyReplicas++;
      else {
        summary.idlePods++;
        if (pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
          summary.idleReadyPods++;
      }
    }
    return summary;
  }

  /**
   * Call slots of the fleet's ready, non-draining pods and their live calls at the last poll (what a
   * campaign may dial into); not fresh when one of them was not polled within two intervals.
   */
  slots(
    namespace: string,
    voiceAgent: string,
    now = Date.now(),
  ): { capacity: number; active: number; fresh: boolean } {
    const out = { capacity: 0, active: 0, fresh: true };
    const maxAge = 2 * this.#options.intervalMs + this.#options.timeoutMs;
    for (const pod of this.#fleet(namespace, voiceAgent)) {
      if (pod.metadata?.deletionTimestamp || pod.status?.phase !== 'Running') continue;
      if (!pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) continue;
      const state = this.#states.get(objectKey(pod));
      if (!state || now - state.seenAt > maxAge) {
        out.fresh = false;
        continue;
      }
      if (state.draining) continue;
      out.capacity += state.capacity;
      out.active += state.activeCalls;
    }
    return out;
  }

  /** True when every pod of the fleet runs this pod template and none is terminating (a rollout is over). */
  onlyTemplate(namespace: string, voiceAgent: string, templateHash: string): boolean {
    return this.#fleet(namespace, voiceAgent).every(
      (p) => p.metadata?.labels?.['pod-template-hash'] === templateHash && !p.metadata?.deletionTimestamp,
    );
  }

  /** Calls handled by the fleet's pods of one pod template (a rollout's new ReplicaSet). */
  callsOnTemplate(namespace: string, voiceAgent: string, templateHash: string): CallCounts {
    const counts: CallCounts = { total: 0, failed: 0 };
    for (const pod of this.#fleet(namespace, voiceAgent)) {
      const state = this.#states.get(objectKey(pod));
      if (!state || state.templateHash !== templateHash) continue;
      counts.total += state.callsTotal;
      counts.failed += state.callsFailed;
    }
    return counts;
  }

  /** One round: poll every running gateway pod, update its marks, report changed fleets. */
  async pollOnce(): Promise<void> {
    const pods = this.#options.pods.list((p) => Boolean(p.status?.podIP) && p.status?.phase === 'Running');
    await forEachLimited(pods, this.#options.concurrency, (pod) => this.#pollPod(pod));

    const live = new Set(this.#options.pods.cache.keys());
    for (const key of this.#states.keys()) if (!live.has(key)) this.#states.delete(key);
    const fleets = new Set(
      this.#options.pods
        .list()
        .map((p) => `${p.metadata?.namespace}/${p.metadata?.labels?.[VOICEAGENT_LABEL]}`),
    );
    for (const key of new Set([...fleets, ...this.#summaries.keys()])) {
      const [namespace = '', name = ''] = key.split('/');
      const { fresh: _fresh, ...counts } = this.summary(namespace, name);
      const fingerprint = JSON.stringify(counts);
      if (this.#summaries.get(key) !== fingerprint) {
        this.#summaries.set(key, fingerprint);
        this.#options.onChange(key);
      }
      if (!fleets.has(key)) this.#summaries.delete(key);
    }
  }

  #fleet(namespace: string, voiceAgent: string): V1Pod[] {
    return this.#options.pods.list(
      (p) => p.metadata?.namespace === namespace && p.metadata?.labels?.[VOICEAGENT_LABEL] === voiceAgent,
    );
  }

  async #pollPod(pod: V1Pod): Promise<void> {
    const status = await this.#fetchStatus(pod);
    this.#options.onPoll?.(status ? 'ok' : 'error');
    if (status) {
      this.#states.set(objectKey(pod), {
        ...status,
        seenAt: Date.now(),
        templateHash: pod.metadata?.labels?.['pod-template-hash'],
      });
    }
    await this.#mark(pod, status?.activeCalls);
  }

  /** A node was cordoned or uncordoned: its pods' marks follow at once, not at the next poll. */
  async nodeChanged(nodeName: string): Promise<void> {
    const pods = this.#options.pods.list((p) => p.spec?.nodeName === nodeName);
    // Poll them now: a drain evicts right after the cordon, so their busy marks must be current too.
    await forEachLimited(pods, this.#options.concurrency, (pod) => this.#pollPod(pod));
  }

  async #mark(pod: V1Pod, activeCalls: number | undefined): Promise<void> {
    if (pod.metadata?.deletionTimestamp) return;
    const node = pod.spec?.nodeName ? this.#options.nodes?.get(pod.spec.nodeName) : undefined;
    const patch = marksPatch(pod, desiredMarks(activeCalls, node?.spec?.unschedulable === true));
    if (!patch) return;
    this.#options.log.debug(
      { pod: objectKey(pod), activeCalls, labels: patch.metadata.labels },
      'marking pod',
    );
    try {
      const marked = await this.#options.rest.mergePatch<V1Pod>(
        objectPath({ apiVersion: 'v1', kind: 'Pod', metadata: pod.metadata }),
        patch,
      );
      this.#options.pods.update(marked);
    } catch (error) {
      this.#options.log.warn({ pod: objectKey(pod), err: String(error) }, 'could not mark pod');
    }
  }

  async #fetchStatus(pod: V1Pod): Promise<GatewayStatus | undefined> {
    // The internal door (rule 10); a pod rendered before it existed serves /status on its http port.
    const container = pod.spec?.containers?.[0];
    const port =
      container?.ports?.find((p) => p.name === INTERNAL_PORT_NAME)?.containerPort ??
      container?.ports?.find((p) => p.name === 'http')?.containerPort ??
      INTERNAL_PORT;
    try {
      const res = await fetch(`http://${pod.status?.podIP}:${port}/status`, {
        signal: AbortSignal.timeout(this.#options.timeoutMs),
      });
      if (!res.ok) return undefined;
      return parseGatewayStatus(await res.json());
    } catch {
      return undefined;
    }
  }
}
