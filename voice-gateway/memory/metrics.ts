// Caller-memory metrics on the registry the gateway injects (GatewayMetrics.registry), so /metrics
// serves them beside the gateway's own. One set per registry: a second store or runtime on the same
// registry shares it. Code that builds a store without a registry (the admin CLI, tests, benchmarks)
// gets prom-client's default registry. No label ever carries a phone number.
import { Counter, register as defaultRegistry, Gauge, Histogram, type Registry } from 'prom-client';

export class MemoryMetrics {
  readonly lookupSeconds: Histogram;
  readonly lookupMisses: Counter<'reason'>;
  readonly writeRetries: Counter;
  readonly writesDropped: Counter<'reason'>;
  readonly pendingWrites: Gauge;
  readonly retentionDeleted: Counter<'table'>;
  readonly memoryUp: Gauge;

  private constructor(r: Registry) {
    const registers = [r];
    this.lookupSeconds = new Histogram({
      name: 'callfleet_memory_lookup_seconds',
      help: 'Caller lookup latency at call start (including lookups that missed the budget)',
      buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.lookupMisses = new Counter({
      name: 'callfleet_memory_lookup_misses_total',
      help: 'Calls that proceeded without caller memory, by reason (timeout, error)',
      labelNames: ['reason'],
      registers,
    });
    this.writeRetries = new Counter({
      name: 'callfleet_memory_write_retries_total',
      help: 'Call-record writes that failed and were scheduled for another attempt',
      registers,
    });
    this.writesDropped = new Counter({
      name: 'callfleet_memory_writes_dropped_total',
      help: 'Call records not written, by reason (queue_full, forgotten, invalid)',
      labelNames: ['reason'],
      registers,
    });
    this.pendingWrites = new Gauge({
      name: 'callfleet_memory_pending_writes',
      help: 'Call records queued and not yet written',
      registers,
    });
    this.retentionDeleted = new Counter({
      name: 'callfleet_memory_retention_deleted_total',
      help: 'Rows deleted by the retention sweeper, by table',
      labelNames: ['table'],
      registers,
    });
    this.memoryUp = new Gauge({
      name: 'callfleet_memory_up',
      help: '1 while the caller-memory database answers and its schema is migrated, else 0',
      registers,
    });
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
