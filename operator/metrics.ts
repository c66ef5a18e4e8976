// The operator's Prometheus metrics (prefix callfleet_operator_). Alerts and the dashboard use these names.
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { counter, gauge, histogram } from '../voice-gateway/lib/metric.ts';

export function createOperatorMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'callfleet_operator_' });
  /** Set by the leader's controller: refreshes the cache-size gauges at a scrape. */
  const hooks: { cacheSize?: () => void } = {};
  return {
    registry,
    hooks,
    reconciles: counter(
      registry,
      'callfleet_operator_reconciles_total',
      'Reconciles by kind and result (success, error, invalid).',
      ['kind', 'result'],
    ),
    reconcileErrors: counter(
      registry,
      'callfleet_operator_reconcile_errors_total',
      'Reconciles that failed and will be retried, by kind.',
      ['kind'],
    ),
    reconcileDuration: histogram(
      registry,
      'callfleet_operator_reconcile_duration_seconds',
      'Time spent in one reconcile, by kind.',
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      ['kind'],
    ),
    queueDepth: gauge(
      registry,
      'callfleet_operator_queue_depth',
      'Keys waiting in the work queue, by kind.',
      ['kind'],
    ),
    apiWrites: counter(
      registry,
      'callfleet_operator_api_writes_total',
      'Write calls to the API server made while reconciling, by verb and resource (`pods`, `voiceagents/status`, …; lease renewals are not counted here).',
      ['verb', 'resource'],
    ),
    leaseWrites: counter(
      registry,
      'callfleet_operator_lease_writes_total',
      'Lease writes made by leader election.',
    ),
    watchRestarts: counter(
      registry,
      'callfleet_operator_watch_restarts_total',
      'Watches restarted, by kind and reason (watchdog, gone, error).',
      ['kind', 'reason'],
    ),
    leader: gauge(registry, 'callfleet_operator_leader', '1 while this replica is the leader.'),
    notices: counter(
      registry,
      'callfleet_operator_notices_total',
      'Busy/idle/draining notices from gateways, by result (applied, unchanged, bad_request, unknown_pod, forbidden).',
      ['result'],
    ),
    cacheObjects: new Gauge({
      name: 'callfleet_operator_cache_objects',
      help: 'Objects held in the informer caches, by kind.',
      labelNames: ['kind'],
      registers: [registry],
      collect: () => hooks.cacheSize?.(),
    }),
    cacheJsonBytes: gauge(
      registry,
      'callfleet_operator_cache_json_bytes',
      'JSON size of the objects held in the informer caches (after the cache transforms), by kind; measured at most once a minute.',
      ['kind'],
    ),
    podMarks: counter(
      registry,
      'callfleet_operator_pod_marks_total',
      'Pod mark writes (busy label, deletion cost, autoscaler annotations).',
    ),
    podMarkDuration: histogram(
      registry,
      'callfleet_operator_pod_mark_duration_seconds',
      'Time from deciding a pod mark write (a notice, a poll answer, a cordon) to the API server answering it, by trigger (notice, poll).',
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      ['trigger'],
    ),
    callPolls: counter(
      registry,
      'callfleet_operator_call_polls_total',
      'Polls of gateway pods /status by the call tracker, by result (ok, error).',
      ['result'],
    ),
    managedResources: gauge(
      registry,
      'callfleet_operator_managed_resources',
      'Custom resources seen, by kind and Ready condition.',
      ['kind', 'ready'],
    ),
    conditions: gauge(
      registry,
      'callfleet_operator_condition',
      'Conditions of each VoiceAgent and MemoryStore (1 True, 0 otherwise), by kind, resource_namespace, resource_name, type and reason. Exported by the leader only.',
      ['kind', 'resource_namespace', 'resource_name', 'type', 'reason'],
    ),
    rollbacks: counter(
      registry,
      'callfleet_operator_rollbacks_total',
      'Automatic rollbacks of a VoiceAgent rollout, by resource_namespace and resource_name.',
      ['resource_namespace', 'resource_name'],
    ),
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
