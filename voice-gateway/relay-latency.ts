// Time a relayed audio message spends inside the gateway: from the start of the WebSocket message
// handler that received it to the return of the send that hands it to the other socket (the bytes
// are then in the kernel). Waiting in the event loop before the handler runs is not included: the
// event-loop delay metric covers that. Counted in preallocated arrays and exposed as a Prometheus
// histogram at scrape time, so the media path never touches prom-client.
import type { Registry } from 'prom-client';

export type RelayDirection = 'to_backend' | 'to_caller';

/** Bucket upper bounds in milliseconds (exposed in seconds). */
export const RELAY_BUCKETS_MS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000];

class Series {
  readonly counts = new Float64Array(RELAY_BUCKETS_MS.length + 1);
  sumMs = 0;
  count = 0;

  observe(ms: number): void {
    let i = 0;
    while (i < RELAY_BUCKETS_MS.length && ms > (RELAY_BUCKETS_MS[i] as number)) i++;
    (this.counts[i] as number)++;
    this.sumMs += ms;
    this.count++;
  }
}

export class RelayLatency {
  readonly toBackend = new Series();
  readonly toCaller = new Series();

  /** `receivedAt` is a `performance.now()` taken when the message handler started. */
  observe(direction: RelayDirection, receivedAt: number): void {
    if (!receivedAt) return;
    (direction === 'to_backend' ? this.toBackend : this.toCaller).observe(performance.now() - receivedAt);
  }

  register(registry: Registry, name: string, help: string): void {
    const series: [RelayDirection, Series][] = [
      ['to_backend', this.toBackend],
      ['to_caller', this.toCaller],
    ];
    registry.registerMetric({
      name,
      help,
      type: 'histogram',
      aggregator: 'sum',
      get: () => {
        const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
        for (const [direction, s] of series) {
          let cumulative = 0;
          RELAY_BUCKETS_MS.forEach((le, i) => {
            cumulative += s.counts[i] as number;
            values.push({
              metricName: `${name}_bucket`,
              labels: { direction, le: le / 1000 },
              value: cumulative,
            });
          });
          values.push({ metricName: `${name}_bucket`, labels: { direction, le: '+Inf' }, value: s.count });
          values.push({ metricName: `${name}_sum`, labels: { direction }, value: s.sumMs / 1000 });
          values.push({ metricName: `${name}_count`, labels: { direction }, value: s.count });
        }
        return { name, help, type: 'histogram', aggregator: 'sum', values };
      },
      reset: () => {},
    } as unknown as Parameters<Registry['registerMetric']>[0]);
  }
}
