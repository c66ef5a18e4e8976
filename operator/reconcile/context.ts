import type { KubernetesObject, V1ReplicaSet } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { GatewayDefaults } from '../../cdk8s/charts/voiceagent/model.ts';
import type { CampaignManager } from '../campaign/manager.ts';
import type { EventRecorder } from '../events.ts';
import type { KubeRest } from '../kube/rest.ts';
import type { OperatorMetrics } from '../metrics.ts';
import type { Informer } from '../runtime/informer.ts';
import type { ReconcileOutcome } from '../runtime/work-queue.ts';
import type { Retirer } from '../scaling/retire.ts';
import type { CallTracker } from '../tracker/call-tracker.ts';
import type { ChildCaches } from './children.ts';
import type { SecretIndex } from './secret-refs.ts';
import type { WithStatus } from './status.ts';
import type { StatusPacer } from './status-pacing.ts';

/** What a reconciler can see and use; the queue, retries and leadership live outside it. */
export interface ReconcileContext {
  rest: KubeRest;
  caches: ChildCaches;
  voiceAgents: Informer<WithStatus>;
  memoryStores: Informer<WithStatus>;
  /** The gateway Deployments' ReplicaSets: their revisions are the rollback targets. */
  replicaSets: Informer<V1ReplicaSet>;
  events: EventRecorder;
  metrics: OperatorMetrics;
  log: Logger;
  /** Secrets in the watched namespaces, names and keys only (absent: references are not checked). */
  secrets?: Informer<KubernetesObject>;
  /** Which VoiceAgents read which Secrets (so a Secret that appears wakes them). */
  secretIndex?: SecretIndex;
  /** Paces count-only VoiceAgent status changes (absent: every change written at once). */
  statusPacer?: StatusPacer;
  /**
   * How often changes of the status call counts alone are written (--call-status-refresh): undefined
   * at once, 0 never on their own (with the next other status change), N at most every N ms.
   */
  callStatusRefreshMs?: number;
  /** Live calls per gateway pod (absent when call tracking is off). */
  tracker?: CallTracker;
  /** Asks idle pods to agree before a scale-down removes them (the operator link, ADR 0021). */
  retirer?: Retirer;
  /** Rendered into every gateway as CALLFLEET_OPERATOR_NOTICE_URL (operator --notice-url). */
  noticeUrl?: string;
  /** The operator's namespace (admitted to the gateways' internal port). */
  operatorNamespace?: string;
  /** Labels for every VoiceAgent's ServiceMonitor and PrometheusRule (--voiceagent-monitoring-labels). */
  monitoringLabels?: Record<string, string>;
  /** Gateway image and pull secrets for VoiceAgents that name none (operator flags, set by the chart). */
  gatewayDefaults?: GatewayDefaults;
  /** CallCampaigns (absent when the cluster does not serve the kind) and their dialers. */
  callCampaigns?: Informer<WithStatus>;
  campaigns?: CampaignManager;
}

export type Reconciler = (ctx: ReconcileContext, key: string, log: Logger) => Promise<ReconcileOutcome>;
