// Caller-memory metrics on the registry the gateway injects (GatewayMetrics.registry), so /metrics
// serves them beside the gateway's own. One set per registry: a second store or runtime on the same
// registry shares it. Code that builds a store without a registry (the admin CLI, tests, benchmarks)
// gets prom-client's default registry. No label ever carries a phone number.
import {
  type Counter,
  register as defaultRegistry,
  type Gauge,
  type Histogram,
  type Registry,
} from 'prom-client';
import { counter, gauge, histogram } from '../lib/metric.ts';

export class MemoryMetrics {
  readonly lookupSeconds: Histogram;
  readonly lookupMisses: Counter<'reason'>;
  readonly writeRetries: Counter;
  readonly writesDropped: Counter<'reason'>;
  readonly pendingWrites: Gauge;
  readonly retentionDeleted: Counter<'table'>;
  readonly memoryUp: Gauge;

  private constructor(r: Registry) {
    this.lookupSeconds = histogram(
      r,
      'callfleet_memory_lookup_seconds',
      'Caller lookup latency at call start (including lookups that missed the budget)',
      [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5],
    );
    this.lookupMisses = counter(
      r,
      'callfleet_memory_lookup_misses_total',
      'Calls that proceeded without caller memory, by reason (timeout, error)',
      ['reason'],
    );
    this.writeRetries = counter(
      r,
      'callfleet_memory_write_retries_total',
      'Call-record writes that failed and were scheduled for another attempt',
    );
    this.writesDropped = counter(
      r,
      'callfleet_memory_writes_dropped_total',
      'Call records not written, by reason (queue_full, forgotten, invalid)',
      ['reason'],
    );
    this.pendingWrites = gauge(
      r,
      'callfleet_memory_pending_writes',
      'Call records queued and not yet written',
    );
    this.retentionDeleted = counter(
      r,
      'callfleet_memory_retention_deleted_total',
      'Rows deleted by the retention sweeper, by table',
      ['table'],
    );
    this.memoryUp = gauge(
      r,
      'callfleet_memory_up',
      '1 while the caller-memory database answers and its schema is migrated, else 0',
    );
  }

  static readonly #byRegistry = new WeakMap<Registry, MemoryMetrics>();

  /** The memory metrics on `registry` (prom-client's default one when none is given), created once. */
  static on(registry: Registry = defaultRegistry): MemoryMetrics {
    let metrics = MemoryMetrics.#byRegistry.get(registry);
    if (!metrics) {
      metrics = new MemoryMetrics(registry);
      MemoryMetrics.#byRegistry.set(registry, metrics);
    }
    return metrics;
  }
}
