// Caller-memory metrics on prom-client's default registry. No label ever carries a phone number.
import client from 'prom-client';

function once<T>(name: string, make: () => T): T {
  return (client.register.getSingleMetric(name) as T | undefined) ?? make();
}

export const lookupSeconds = once(
  'callfleet_memory_lookup_seconds',
  () =>
    new client.Histogram({
      name: 'callfleet_memory_lookup_seconds',
      help: 'Caller lookup latency at call start (including lookups that missed the budget)',
      buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5],
    }),
);

export const lookupMisses = once(
  'callfleet_memory_lookup_misses_total',
  () =>
    new client.Counter({
      name: 'callfleet_memory_lookup_misses_total',
      help: 'Calls that proceeded without caller memory, by reason (timeout, error)',
      labelNames: ['reason'],
    }),
);

export const writeRetries = once(
  'callfleet_memory_write_retries_total',
  () =>
    new client.Counter({
      name: 'callfleet_memory_write_retries_total',
      help: 'Call-record writes that failed and were scheduled for another attempt',
    }),
);

export const writesDropped = once(
  'callfleet_memory_writes_dropped_total',
  () =>
    new client.Counter({
      name: 'callfleet_memory_writes_dropped_total',
      help: 'Call records not written, by reason (queue_full, forgotten, invalid)',
      labelNames: ['reason'],
    }),
);

export const pendingWrites = once(
  'callfleet_memory_pending_writes',
  () =>
    new client.Gauge({
      name: 'callfleet_memory_pending_writes',
      help: 'Call records queued and not yet written',
    }),
);

export const retentionDeleted = once(
  'callfleet_memory_retention_deleted_total',
  () =>
    new client.Counter({
      name: 'callfleet_memory_retention_deleted_total',
      help: 'Rows deleted by the retention sweeper, by table',
      labelNames: ['table'],
    }),
);

export const memoryUp = once(
  'callfleet_memory_up',
  () =>
    new client.Gauge({
      name: 'callfleet_memory_up',
      help: '1 while the caller-memory database answers and its schema is migrated, else 0',
    }),
);
