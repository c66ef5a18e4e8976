// The call tracker: polls every gateway pod's /status (bounded concurrency), keeps the busy label,
// pod-deletion-cost, safe-to-evict and karpenter.sh/do-not-disrupt annotations on each pod, takes pods on cordoned nodes out of the
// Services, and aggregates live calls per VoiceAgent for status and busy-aware scaling.
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Pod } from '@kubernetes/client-node';
import { VOICEAGENT_LABEL } from '../../cdk8s/charts/labels.ts';
import { INTERNAL_PORT, INTERNAL_PORT_NAME } from '../../cdk8s/charts/voiceagent/model.ts';
import { type GatewayStatus, parseGatewayStatus } from '../../voice-gateway/status.ts';
import { objectKey } from '../kube/resources.ts';
import { forEachLimited } from '../runtime/limit.ts';
import { type MarkTrigger, MarkWriter, type MarkWriterOptions } from './mark-writer.ts';
import { askPod } from './pod-http.ts';

export type { GatewayStatus };

/** The share of the poll interval a round's polls are spread over (the rest is slack for slow answers). */
const POLL_SPREAD = 0.8;

interface PodState extends GatewayStatus {
  seenAt: number;
  templateHash?: string;
  /** The last notice's (epoch, seq): older notices are ignored. */
  noticeEpoch?: number;
  noticeSeq?: number;
}

/** What a notice (or a retire answer) says about a pod. */
export interface PodEdge {
  activeCalls: number;
  connectingCalls: number;
  draining: boolean;
}

/** Calls on a pod for scaling and marks: live ones and ones being connected. */
export function callsOn(state: Pick<GatewayStatus, 'activeCalls' | 'connectingCalls'>): number {
  return state.activeCalls + (state.connectingCalls ?? 0);
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
  /** Pods not terminating: more than the Deployment's replicas means removals are still pending. */
  livePods: number;
  /** Every running pod of the fleet was polled within the last two intervals. */
  fresh: boolean;
}

/** The mark writer's options (the API client, the caches, the mark hooks) and the poll's own. */
export interface CallTrackerOptions extends MarkWriterOptions {
  intervalMs?: number;
  concurrency?: number;
  timeoutMs?: number;
  /**
   * Called with `namespace/name` of a VoiceAgent whose summary changed; `urgent` when a decision waits
   * on it (a scale-down waiting for idle pods, pods on a cordoned node), not only the status's counts.
   */
  onChange(voiceAgentKey: string, urgent: boolean): void;
  onPoll?(result: 'ok' | 'error'): void;
}

export class CallTracker {
  readonly #options: Required<Omit<CallTrackerOptions, 'nodes' | 'onPoll' | 'onMark' | 'onMarkDone'>> &
    CallTrackerOptions;
  readonly #states = new Map<string, PodState>();
  readonly #summaries = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  readonly #stopping = new AbortController();
  readonly #marks: MarkWriter;

  /** Pod keys per fleet (`namespace/voiceagent`): a summary reads its fleet, not every pod. */
  readonly #byFleet = new Map<string, Set<string>>();

  constructor(options: CallTrackerOptions) {
    this.#options = { intervalMs: 5000, concurrency: 16, timeoutMs: 2000, ...options };
    this.#marks = new MarkWriter(options);
    const index = (event: string, pod: V1Pod) => {
      const fleet = fleetKey(pod);
      const key = objectKey(pod);
      let keys = this.#byFleet.get(fleet);
      if (event === 'deleted') {
        keys?.delete(key);
        if (keys?.size === 0) this.#byFleet.delete(fleet);
        return;
      }
      if (!keys) {
        keys = new Set();
        this.#byFleet.set(fleet, keys);
      }
      keys.add(key);
    };
    for (const pod of options.pods.cache.values()) index('added', pod);
    options.pods.on(index);
  }

  get intervalMs(): number {
    return this.#options.intervalMs;
  }

  /**
   * Polls every pod once per interval, spread evenly over most of it rather than in a burst: at
   * thousands of pods a burst of /status requests delays the notices and marks that arrive meanwhile
   * (the slowest busy marks in bench:operator-scale fell in the poll rounds). The first round, when the
   * operator starts leading, polls at once: until then it knows no pod's calls.
   */
  start(): void {
    let first = true;
    const loop = async () => {
      if (this.#stopped) return;
      const startedAt = performance.now();
      const spreadMs = first ? 0 : this.#options.intervalMs * POLL_SPREAD;
      first = false;
      this.#running = this.#pollSpread(spreadMs).catch((error) =>
        this.#options.log.warn({ err: String(error) }, 'call poll failed'),
      );
      await this.#running;
      const wait = Math.max(0, this.#options.intervalMs - (performance.now() - startedAt));
      if (!this.#stopped) this.#timer = setTimeout(loop, wait);
    };
    void loop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopping.abort();
    clearTimeout(this.#timer);
    await this.#running;
  }

  summary(namespace: string, voiceAgent: string, now = Date.now()): FleetSummary {
    const summary: FleetSummary = {
      activeCalls: 0,
      drainingReplicas: 0,
      busyReplicas: 0,
      idlePods: 0,
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
      else if (callsOn(current) > 0) summary.busyReplicas++;
      else summary.idlePods++;
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

  /** One round at once: poll every running gateway pod, update its marks, report changed fleets. */
  async pollOnce(): Promise<void> {
    await forEachLimited(this.#runningPods(), this.#options.concurrency, (pod) => this.#pollPod(pod));
    this.#roundDone();
  }

  /** One round with the pods' polls spaced evenly over `spreadMs`. */
  async #pollSpread(spreadMs: number): Promise<void> {
    const pods = this.#runningPods();
    const gapMs = spreadMs / Math.max(pods.length, 1);
    const t0 = performance.now();
    let index = 0;
    await forEachLimited(pods, this.#options.concurrency, async (pod) => {
      const waitMs = t0 + index++ * gapMs - performance.now();
      if (waitMs > 0)
        await sleep(waitMs, undefined, { signal: this.#stopping.signal }).catch(() => undefined);
      if (!this.#stopped) await this.#pollPod(pod);
    });
    if (!this.#stopped) this.#roundDone();
  }

  #runningPods(): V1Pod[] {
    return this.#options.pods.list((p) => Boolean(p.status?.podIP) && p.status?.phase === 'Running');
  }

  /** After a round: forget pods that are gone, report fleets whose summary changed. */
  #roundDone(): void {
    const live = new Set(this.#options.pods.cache.keys());
    for (const key of this.#states.keys()) if (!live.has(key)) this.#states.delete(key);
    const fleets = new Set(this.#options.pods.list().map(fleetKey));
    for (const key of new Set([...fleets, ...this.#summaries.keys()])) {
      this.#summaryChanged(key);
      if (!fleets.has(key)) this.#summaries.delete(key);
    }
  }

  #fleet(namespace: string, voiceAgent: string): V1Pod[] {
    const pods: V1Pod[] = [];
    for (const key of this.#byFleet.get(`${namespace}/${voiceAgent}`) ?? []) {
      const pod = this.#options.pods.get(key);
      if (pod) pods.push(pod);
    }
    return pods;
  }

  /** The fleet's pods (for the scale-down's choice of which idle pods to retire). */
  fleet(namespace: string, voiceAgent: string): V1Pod[] {
    return this.#fleet(namespace, voiceAgent);
  }

  async #pollPod(pod: V1Pod): Promise<void> {
    const askedAt = Date.now();
    const status = await this.#fetchStatus(pod);
    this.#options.onPoll?.(status ? 'ok' : 'error');
    const key = objectKey(pod);
    const previous = this.#states.get(key);
    // A notice that arrived while this poll was under way is newer than the poll's answer.
    if (previous && previous.seenAt > askedAt) return;
    if (status) {
      this.#states.set(key, {
        ...status,
        seenAt: Date.now(),
        templateHash: pod.metadata?.labels?.['pod-template-hash'],
        noticeEpoch: previous?.noticeEpoch,
        noticeSeq: previous?.noticeSeq,
      });
    }
    await this.#mark(pod, 'poll', status ? callsOn(status) : undefined, status?.draining);
    // Reported now, not when the round ends: a round is spread over most of the interval, and the
    // status (activeCalls) should follow the marks as closely as a notice makes it.
    if (status) this.#summaryChanged(fleetKey(pod));
  }

  /** The tracked state of one pod (undefined: never heard from, or gone). */
  state(podKey: string): (GatewayStatus & { seenAt: number }) | undefined {
    return this.#states.get(podKey);
  }

  /**
   * An edge the pod itself reported (a verified notice, or its answer to a retire request): the state
   * is replaced at once, the pod's marks follow within one API write, and its fleet is reconciled when
   * its summary changed. Notices older than the last one applied (epoch, seq) change nothing.
   */
  async applyEdge(podKey: string, edge: PodEdge, order?: { epoch: number; seq: number }): Promise<boolean> {
    const pod = this.#options.pods.get(podKey);
    if (!pod) return false;
    const previous = this.#states.get(podKey);
    if (order && previous?.noticeEpoch !== undefined) {
      const older =
        order.epoch < previous.noticeEpoch ||
        (order.epoch === previous.noticeEpoch && order.seq <= (previous.noticeSeq ?? 0));
      if (older) return false;
    }
    this.#states.set(podKey, {
      capacity: previous?.capacity ?? 0,
      callsTotal: previous?.callsTotal ?? 0,
      callsFailed: previous?.callsFailed ?? 0,
      ...edge,
      seenAt: Date.now(),
      templateHash: pod.metadata?.labels?.['pod-template-hash'],
      noticeEpoch: order?.epoch ?? previous?.noticeEpoch,
      noticeSeq: order?.seq ?? previous?.noticeSeq,
    });
    await this.#mark(pod, 'notice', callsOn(edge), edge.draining);
    this.#summaryChanged(fleetKey(pod));
    return true;
  }

  /** Reports a fleet whose summary changed since it was last reported. */
  #summaryChanged(key: string): void {
    const [namespace = '', name = ''] = key.split('/');
    const { fresh: _fresh, ...counts } = this.summary(namespace, name);
    const fingerprint = JSON.stringify(counts);
    if (this.#summaries.get(key) === fingerprint) return;
    this.#summaries.set(key, fingerprint);
    this.#options.onChange(key, this.#waiting.has(key) || this.#onCordonedNode(namespace, name));
  }

  /** Fleets whose scale-down waits for idle pods: their edges wake the reconcile at once. */
  readonly #waiting = new Set<string>();

  setWaiting(namespace: string, voiceAgent: string, waiting: boolean): void {
    if (waiting) this.#waiting.add(`${namespace}/${voiceAgent}`);
    else this.#waiting.delete(`${namespace}/${voiceAgent}`);
  }

  #onCordonedNode(namespace: string, voiceAgent: string): boolean {
    const nodes = this.#options.nodes;
    if (!nodes) return false;
    return this.#fleet(namespace, voiceAgent).some(
      (p) => p.spec?.nodeName !== undefined && nodes.get(p.spec.nodeName)?.spec?.unschedulable === true,
    );
  }

  /** A node was cordoned or uncordoned: its pods' marks follow at once, not at the next poll. */
  async nodeChanged(nodeName: string): Promise<void> {
    const pods = this.#options.pods.list((p) => p.spec?.nodeName === nodeName);
    // Poll them now: a drain evicts right after the cordon, so their busy marks must be current too.
    await forEachLimited(pods, this.#options.concurrency, (pod) => this.#pollPod(pod));
  }

  #mark(pod: V1Pod, trigger: MarkTrigger, activeCalls: number | undefined, draining = false): Promise<void> {
    return this.#marks.mark(objectKey(pod), { activeCalls, draining, trigger });
  }

  async #fetchStatus(pod: V1Pod): Promise<GatewayStatus | undefined> {
    const port = internalPortOf(pod);
    try {
      const answer = await askPod(`http://${pod.status?.podIP}:${port}/status`, {
        timeoutMs: this.#options.timeoutMs,
      });
      return answer.status === 200 ? parseGatewayStatus(answer.body) : undefined;
    } catch {
      return undefined;
    }
  }
}

/** `namespace/voiceagent` of a gateway pod: the fleet its calls count towards. */
function fleetKey(pod: V1Pod): string {
  return `${pod.metadata?.namespace}/${pod.metadata?.labels?.[VOICEAGENT_LABEL]}`;
}

/** The internal door (rule 10); a pod rendered before it existed serves /status on its http port. */
export function internalPortOf(pod: V1Pod): number {
  const container = pod.spec?.containers?.[0];
  return (
    container?.ports?.find((p) => p.name === INTERNAL_PORT_NAME)?.containerPort ??
    container?.ports?.find((p) => p.name === 'http')?.containerPort ??
    INTERNAL_PORT
  );
}
