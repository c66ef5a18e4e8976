// The operator's Prometheus metrics (prefix callfleet_operator_). Alerts and the dashboard use these names.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export function createOperatorMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'callfleet_operator_' });
  /** Set by the leader's controller: refreshes the cache-size gauges at a scrape. */
  const hooks: { cacheSize?: () => void } = {};
  return {
    registry,
    hooks,
    reconciles: new Counter({
      name: 'callfleet_operator_reconciles_total',
      help: 'Reconciles by kind and result (success, error, invalid).',
      labelNames: ['kind', 'result'],
      registers: [registry],
    }),
    reconcileErrors: new Counter({
      name: 'callfleet_operator_reconcile_errors_total',
      help: 'Reconciles that failed and will be retried, by kind.',
      labelNames: ['kind'],
      registers: [registry],
    }),
    reconcileDuration: new Histogram({
      name: 'callfleet_operator_reconcile_duration_seconds',
      help: 'Time spent in one reconcile, by kind.',
      labelNames: ['kind'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'callfleet_operator_queue_depth',
      help: 'Keys waiting in the work queue, by kind.',
      labelNames: ['kind'],
      registers: [registry],
    }),
    apiWrites: new Counter({
      name: 'callfleet_operator_api_writes_total',
      help: 'Write calls to the API server made while reconciling, by verb (lease renewals are not counted here).',
      labelNames: ['verb'],
      registers: [registry],
    }),
    leaseWrites: new Counter({
      name: 'callfleet_operator_lease_writes_total',
      help: 'Lease writes made by leader election.',
      registers: [registry],
    }),
    watchRestarts: new Counter({
      name: 'callfleet_operator_watch_restarts_total',
      help: 'Watches restarted, by kind and reason (watchdog, gone, error, resync).',
      labelNames: ['kind', 'reason'],
      registers: [registry],
    }),
    leader: new Gauge({
      name: 'callfleet_operator_leader',
      help: '1 while this replica is the leader.',
      registers: [registry],
    }),
    notices: new Counter({
      name: 'callfleet_operator_notices_total',
      help: 'Busy/idle/draining notices from gateways, by result (applied, unchanged, bad_request, unknown_pod, forbidden).',
      labelNames: ['result'],
      registers: [registry],
    }),
    cacheObjects: new Gauge({
      name: 'callfleet_operator_cache_objects',
      help: 'Objects held in the informer caches, by kind.',
      labelNames: ['kind'],
      registers: [registry],
      collect: () => hooks.cacheSize?.(),
    }),
    cacheJsonBytes: new Gauge({
      name: 'callfleet_operator_cache_json_bytes',
      help: 'JSON size of the objects held in the informer caches (after the cache transforms), by kind; measured at most once a minute.',
      labelNames: ['kind'],
      registers: [registry],
    }),
    podMarks: new Counter({
      name: 'callfleet_operator_pod_marks_total',
      help: 'Pod mark writes (busy label, deletion cost, autoscaler annotations).',
      registers: [registry],
    }),
    callPolls: new Counter({
      name: 'callfleet_operator_call_polls_total',
      help: 'Polls of gateway pods /status by the call tracker, by result (ok, error).',
      labelNames: ['result'],
      registers: [registry],
    }),
    managedResources: new Gauge({
      name: 'callfleet_operator_managed_resources',
      help: 'Custom resources seen, by kind and Ready condition.',
      labelNames: ['kind', 'ready'],
      registers: [registry],
    }),
    conditions: new Gauge({
      name: 'callfleet_operator_condition',
      help: 'Conditions of each VoiceAgent and MemoryStore (1 True, 0 otherwise), by kind, resource_namespace, resource_name, type and reason. Exported by the leader only.',
      labelNames: ['kind', 'resource_namespace', 'resource_name', 'type', 'reason'],
      registers: [registry],
    }),
    rollbacks: new Counter({
      name: 'callfleet_operator_rollbacks_total',
      help: 'Automatic rollbacks of a VoiceAgent rollout, by resource_namespace and resource_name.',
      labelNames: ['resource_namespace', 'resource_name'],
      registers: [registry],
    }),
  };
}

/**
 * A replica that steps down forgets what it reported as leader: the new leader reports the fleet, and a
 * stale copy from the old one would keep (or hide) a "not Ready" alert.
 */
export function resetLeaderMetrics(metrics: OperatorMetrics): void {
  metrics.managedResources.reset();
  metrics.conditions.reset();
  metrics.queueDepth.reset();
  metrics.cacheObjects.reset();
  metrics.cacheJsonBytes.reset();
  metrics.hooks.cacheSize = undefined;
}

export type OperatorMetrics = ReturnType<typeof createOperatorMetrics>;
