// Wires informers, the work queue and the reconcilers together. Leadership decides whether this
// replica reconciles: a standby keeps nothing warm and starts its caches when it becomes the leader.
import { randomBytes } from 'node:crypto';
import type { KubeConfig, KubernetesObject, V1Node, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { GatewayDefaults } from '../cdk8s/charts/voiceagent/model.ts';
import { CampaignManager } from './campaign/manager.ts';
import { ConditionMetrics } from './condition-metrics.ts';
import { EventRecorder } from './events.ts';
import type { KubeAccess } from './kube/access.ts';
import { childResources, type ResourceType, resourceFor } from './kube/resources.ts';
import { KubeError, KubeRest } from './kube/rest.ts';
import type { OperatorMetrics } from './metrics.ts';
import { reconcileCallCampaign } from './reconcile/callcampaign.ts';
import type { ChildCaches } from './reconcile/children.ts';
import type { ReconcileContext, Reconciler } from './reconcile/context.ts';
import { reconcileMemoryStore } from './reconcile/memorystore.ts';
import { SecretIndex } from './reconcile/secret-refs.ts';
import type { WithStatus } from './reconcile/status.ts';
import { StatusPacer } from './reconcile/status-pacing.ts';
import { reconcileVoiceAgent } from './reconcile/voiceagent.ts';
import { cacheSizeCollector } from './runtime/cache-size.ts';
import { Informer } from './runtime/informer.ts';
import {
  cacheKeyOf,
  type ReconciledKind,
  type Request,
  requestForKey,
  requestKey,
} from './runtime/request.ts';
import { secretForCache, slimNode, slimPod, stripServerFields } from './runtime/transforms.ts';
import { WorkQueue } from './runtime/work-queue.ts';
import { CallTracker } from './tracker/call-tracker.ts';
import { type OperatorLink, type OperatorLinkOptions, startOperatorLink } from './tracker/operator-link.ts';
import {
  type Enqueue,
  forKind,
  ownedBy,
  secretReaders,
  storesOfAgent,
  storeUsers,
  watch,
} from './watches.ts';

export const MANAGED_BY_SELECTOR = 'app.kubernetes.io/managed-by=callfleet-operator';
const GATEWAY_SELECTOR = `${MANAGED_BY_SELECTOR},app.kubernetes.io/component=gateway`;
const CALLFLEET = 'callfleet.io/v1alpha1';
/** API connections for pod marks alone (beside the 32 every other request shares). */
const MARK_CONNECTIONS = 16;

const reconcilers: Record<ReconciledKind, Reconciler> = {
  VoiceAgent: reconcileVoiceAgent,
  MemoryStore: reconcileMemoryStore,
  CallCampaign: reconcileCallCampaign,
};

export interface ControllerOptions {
  kc: KubeConfig | KubeAccess;
  log: Logger;
  metrics: OperatorMetrics;
  identity: string;
  /** Watch only these namespaces (default: all). */
  namespaces?: string[];
  concurrency?: number;
  resyncMs?: number;
  watchdogMs?: number;
  /** How often the call tracker polls each gateway pod's /status; 0 turns tracking off. */
  callPollIntervalMs?: number;
  /** The operator's namespace: the gateways' NetworkPolicy admits it to their internal port. */
  operatorNamespace?: string;
  /** Labels for every VoiceAgent's ServiceMonitor and PrometheusRule. */
  monitoringLabels?: Record<string, string>;
  /** Gateway image and pull secrets when a VoiceAgent names none (the chart passes the operator's own). */
  gatewayDefaults?: GatewayDefaults;
  /** The campaign dialers' clock (calling windows, start times, backoff); default Date.now. */
  campaignClock?: () => number;
  /**
   * How often a change of a VoiceAgent's status call counts alone is written (0: never on its own, only
   * with another status change; unset: at once, as every poll round did before notices).
   */
  callStatusRefreshMs?: number;
  /** How old a cache-size measure may be at a scrape (default 60 s). */
  cacheMeasureMs?: number;
  /** The operator link (ADR 0021): notice endpoint host:port, the URL gateways reach it at, test hooks. */
  link?: { noticeAddr?: string; noticeUrl?: string } & Pick<OperatorLinkOptions, 'onVictimsChosen'>;
}

export class Controller {
  readonly #options: ControllerOptions;
  readonly #rest: KubeRest;
  readonly #informers: Informer[] = [];
  #queue: WorkQueue<Request> | undefined;
  #tracker: CallTracker | undefined;
  #campaigns: CampaignManager | undefined;
  #link: OperatorLink | undefined;
  #countTimer: NodeJS.Timeout | undefined;
  #synced = false;
  /** The ready gauges, brought up to date at most every 200 ms (#scheduleCount). */
  readonly #conditionMetrics: ConditionMetrics;

  constructor(options: ControllerOptions) {
    this.#options = options;
    this.#conditionMetrics = new ConditionMetrics(options.metrics);
    this.#rest = new KubeRest(options.kc, {
      onWrite: (verb, resource) => options.metrics.apiWrites.inc({ verb, resource }),
    });
  }

  get synced(): boolean {
    return this.#synced;
  }

  async start(): Promise<void> {
    const { log, metrics } = this.#options;
    const served = await this.#servedKinds();
    const voiceAgents = this.#informer<WithStatus>(resourceFor(CALLFLEET, 'VoiceAgent'));
    const memoryStores = this.#informer<WithStatus>(resourceFor(CALLFLEET, 'MemoryStore'));
    // Every Secret in the watched namespaces, in one cache shared by both readers: the operator's own
    // (as children, with their data) and the ones VoiceAgents reference (names and keys only). A
    // VoiceAgent whose Secret is missing says so, and is reconciled again when the Secret appears.
    const secrets = this.#informer(resourceFor('v1', 'Secret'), undefined, secretForCache);
    const secretIndex = new SecretIndex();
    const caches = this.#childCaches(served, secrets);
    const replicaSets = this.#informer<V1ReplicaSet>(resourceFor('apps/v1', 'ReplicaSet'), GATEWAY_SELECTOR);
    const tracked = this.#trackedObjects();
    const ctx: ReconcileContext = {
      rest: this.#rest,
      caches,
      voiceAgents,
      memoryStores,
      replicaSets,
      secrets,
      secretIndex,
      events: new EventRecorder(this.#rest, this.#options.identity, log),
      statusPacer: new StatusPacer(),
      callStatusRefreshMs: this.#options.callStatusRefreshMs,
      metrics,
      log,
      ...(this.#options.operatorNamespace ? { operatorNamespace: this.#options.operatorNamespace } : {}),
      monitoringLabels: this.#options.monitoringLabels,
      gatewayDefaults: this.#options.gatewayDefaults,
    };
    if (await this.#servesCampaigns())
      ctx.callCampaigns = this.#informer<WithStatus>(resourceFor(CALLFLEET, 'CallCampaign'));
    const queue = new WorkQueue<Request>((request) => this.#reconcile(ctx, request), {
      keyOf: requestKey,
      concurrency: this.#options.concurrency ?? 8,
      onDepthChange: (depth) => metrics.queueDepth.set({ kind: 'all' }, depth),
    });
    this.#queue = queue;
    const enqueue: Enqueue = (request, urgent) => queue.add(request, urgent);
    if (tracked) await this.#startTracking(ctx, tracked, queue);
    if (ctx.callCampaigns) this.#startCampaigns(ctx, ctx.callCampaigns);

    // What wakes which reconcile (operator/watches.ts).
    if (ctx.callCampaigns) watch(ctx.callCampaigns, enqueue, forKind('CallCampaign'));
    watch(voiceAgents, enqueue, forKind('VoiceAgent'), storesOfAgent);
    watch(memoryStores, enqueue, forKind('MemoryStore'), storeUsers(voiceAgents));
    watch(secrets, enqueue, secretReaders(secretIndex));
    for (const child of caches.values()) watch(child, enqueue, ownedBy);

    this.#measureCaches();
    await Promise.all(this.#informers.map((i) => i.start()));
    this.#tracker?.start();
    this.#synced = true;
    log.info({ kinds: [...caches.keys()].map((k) => k.split('/').pop()) }, 'caches synced; reconciling');
  }

  /** callfleet_operator_cache_objects / _json_bytes per kind, measured at scrape time. */
  #measureCaches(): void {
    const { metrics } = this.#options;
    metrics.hooks.cacheSize = cacheSizeCollector(
      () => this.#informers.map((i) => ({ kind: i.kind, cache: i.cache })),
      (kind, size) => {
        metrics.cacheObjects.set({ kind }, size.objects);
        metrics.cacheJsonBytes.set({ kind }, size.jsonBytes);
      },
      this.#options.cacheMeasureMs,
    );
  }

  /** An informer over the watched namespaces; every cache holds what the operator reads (runtime/transforms.ts). */
  #informer<T extends KubernetesObject>(
    resource: ResourceType,
    labelSelector?: string,
    transform?: (object: KubernetesObject) => KubernetesObject,
  ): Informer<T> {
    const { log, metrics } = this.#options;
    const created = new Informer<T>(
      this.#rest,
      {
        resource,
        namespaces: this.#options.namespaces,
        labelSelector,
        // Managed fields never.
        transform: transform ?? stripServerFields,
        resyncMs: this.#options.resyncMs,
        watchdogMs: this.#options.watchdogMs,
        onWatchRestart: (reason) => metrics.watchRestarts.inc({ kind: resource.kind, reason }),
      },
      log,
    );
    this.#informers.push(created as unknown as Informer);
    return created;
  }

  /** One cache per child kind of the kind table the cluster serves (the Secret cache is shared). */
  #childCaches(served: Set<string>, secrets: Informer): ChildCaches {
    const caches: ChildCaches = new Map();
    for (const resource of childResources()) {
      if (!served.has(resource.apiVersion)) continue;
      const key = `${resource.apiVersion}/${resource.kind}`;
      caches.set(key, resource.kind === 'Secret' ? secrets : this.#informer(resource, MANAGED_BY_SELECTOR));
    }
    return caches;
  }

  /** The gateway pods and the nodes they run on, when call tracking is on. */
  #trackedObjects(): { pods: Informer<V1Pod>; nodes: Informer<V1Node> } | undefined {
    if ((this.#options.callPollIntervalMs ?? 5000) <= 0) return undefined;
    const pods = this.#informer<V1Pod>(resourceFor('v1', 'Pod'), GATEWAY_SELECTOR, slimPod);
    // Nodes are cluster-scoped: cordons are read cluster-wide even when only one namespace is watched.
    const nodes = new Informer<V1Node>(
      this.#rest,
      { resource: resourceFor('v1', 'Node'), resyncMs: this.#options.resyncMs, transform: slimNode },
      this.#options.log,
    );
    this.#informers.push(nodes as unknown as Informer);
    return { pods, nodes };
  }

  /** The call tracker and the operator link (ADR 0021): busy-aware scale-down and cordoned nodes. */
  async #startTracking(
    ctx: ReconcileContext,
    { pods, nodes }: { pods: Informer<V1Pod>; nodes: Informer<V1Node> },
    queue: WorkQueue<Request>,
  ): Promise<void> {
    const { log, metrics } = this.#options;
    const tracker = new CallTracker({
      // Marks have connections of their own: a wave of reconciles never queues a busy mark.
      rest: this.#rest.withOwnConnections(MARK_CONNECTIONS),
      pods,
      nodes,
      log,
      intervalMs: this.#options.callPollIntervalMs ?? 5000,
      // Call counts alone (status.activeCalls) are written at most every callStatusRefreshMs (0: only
      // with another status change, status.ts): call churn costs pod marks, not VoiceAgent writes.
      onChange: (key, urgent) => {
        const refreshMs = this.#options.callStatusRefreshMs;
        const request = requestForKey('VoiceAgent', key);
        if (urgent || refreshMs === undefined) queue.add(request);
        else if (refreshMs > 0) queue.addAfter(request, refreshMs);
      },
      onPoll: (result) => metrics.callPolls.inc({ result }),
      onMark: () => metrics.podMarks.inc(),
      onMarkDone: (seconds, trigger) => metrics.podMarkDuration.observe({ trigger }, seconds),
    });
    this.#tracker = tracker;
    ctx.tracker = tracker;
    this.#link = await startOperatorLink({
      tracker,
      pods,
      secrets: ctx.caches.get('v1/Secret'),
      log,
      noticeAddr: this.#options.link?.noticeAddr,
      onVictimsChosen: this.#options.link?.onVictimsChosen,
      onNotice: (result) => metrics.notices.inc({ result }),
    });
    ctx.retirer = this.#link.retirer;
    ctx.noticeUrl = this.#options.link?.noticeUrl;
    nodes.on((event, node, previous) => {
      if (event === 'updated' && previous?.spec?.unschedulable !== node.spec?.unschedulable) {
        void tracker.nodeChanged(node.metadata?.name ?? '');
      }
    });
  }

  /** The campaign dialers (only when the cluster serves CallCampaign). */
  #startCampaigns(ctx: ReconcileContext, campaigns: Informer<WithStatus>): void {
    this.#campaigns = new CampaignManager({
      rest: this.#rest,
      campaigns,
      voiceAgents: ctx.voiceAgents,
      memoryStores: ctx.memoryStores,
      tracker: this.#tracker,
      events: ctx.events,
      log: this.#options.log,
      ...(this.#options.campaignClock ? { clock: this.#options.campaignClock } : {}),
    });
    ctx.campaigns = this.#campaigns;
  }

  /** The bound notice port (tests listen on port 0). */
  get noticePort(): number | undefined {
    return this.#link?.port;
  }

  async stop(): Promise<void> {
    await this.#campaigns?.stopAll();
    await this.#link?.close();
    await this.#tracker?.stop();
    await this.#queue?.stop();
    clearTimeout(this.#countTimer);
    this.#countTimer = undefined;
    await Promise.all(this.#informers.map((i) => i.stop()));
  }

  async #reconcile(ctx: ReconcileContext, request: Request) {
    const { kind, namespace, name } = request;
    const log = this.#options.log.child({
      kind,
      namespace,
      name,
      reconcileId: randomBytes(4).toString('hex'),
    });
    const end = this.#options.metrics.reconcileDuration.startTimer({ kind });
    try {
      const outcome = await reconcilers[kind](ctx, cacheKeyOf(request), log);
      this.#options.metrics.reconciles.inc({ kind, result: 'success' });
      return outcome;
    } catch (error) {
      // Its namespace is being deleted: the object goes with it, retrying would only fail again.
      if (error instanceof KubeError && error.status === 403 && /being terminated/.test(error.message)) {
        log.debug('namespace is terminating; not retrying');
        return;
      }
      this.#options.metrics.reconciles.inc({ kind, result: 'error' });
      this.#options.metrics.reconcileErrors.inc({ kind });
      log.error({ err: error }, 'reconcile failed; will retry');
      throw error;
    } finally {
      end();
      this.#scheduleCount(ctx);
    }
  }

  /** The ready gauges follow the cached CRs at most every 200 ms, not after each reconcile. */
  #scheduleCount(ctx: ReconcileContext): void {
    if (this.#countTimer) return;
    this.#countTimer = setTimeout(() => {
      this.#countTimer = undefined;
      this.#conditionMetrics.update([
        ['VoiceAgent', ctx.voiceAgents.cache],
        ['MemoryStore', ctx.memoryStores.cache],
      ]);
    }, 200);
  }

  /** Whether the CallCampaign CRD is installed (an older install runs without campaigns). */
  async #servesCampaigns(): Promise<boolean> {
    const list = await this.#rest
      .getOrNull<{ resources?: { name: string }[] }>('/apis/callfleet.io/v1alpha1')
      .catch(() => null);
    return Boolean(list?.resources?.some((r) => r.name === 'callcampaigns'));
  }

  /** apiVersions the API server serves (so optional kinds like ServiceMonitor are watched only when installed). */
  async #servedKinds(): Promise<Set<string>> {
    const served = new Set<string>(['v1']);
    const groups = await this.#rest.get<{ groups: { versions: { groupVersion: string }[] }[] }>('/apis');
    for (const group of groups.groups) for (const version of group.versions) served.add(version.groupVersion);
    return served;
  }
}
