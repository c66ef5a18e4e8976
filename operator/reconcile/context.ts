import type { V1ReplicaSet } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { GatewayDefaults } from '../../cdk8s/charts/voiceagent/model.ts';
import type { EventRecorder } from '../events.ts';
import type { KubeRest } from '../kube/rest.ts';
import type { OperatorMetrics } from '../metrics.ts';
import type { Informer } from '../runtime/informer.ts';
import type { ReconcileOutcome } from '../runtime/work-queue.ts';
import type { CallTracker } from '../tracker/call-tracker.ts';
import type { ChildCaches } from './children.ts';
import type { WithStatus } from './status.ts';

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
  /** Live calls per gateway pod (absent when call tracking is off). */
  tracker?: CallTracker;
  /** Gateway image and pull secrets for VoiceAgents that name none (operator flags, set by the chart). */
  gatewayDefaults?: GatewayDefaults;
}

export type Reconciler = (ctx: ReconcileContext, key: string, log: Logger) => Promise<ReconcileOutcome>;
