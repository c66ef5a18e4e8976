// One line per metric: the gateway, its memory and recordings and the operator declare their metrics
// through these, on the registry they are given (never prom-client's global one by accident).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** A counter on `registry`. */
export function counter<const L extends string = string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Counter<L> {
  return new Counter({ name, help, labelNames, registers: [registry] });
}

/** A gauge on `registry`. */
export function gauge<const L extends string = string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Gauge<L> {
  return new Gauge({ name, help, labelNames, registers: [registry] });
}

/** A histogram on `registry` with the given bucket bounds (seconds, bytes…). */
export function histogram<const L extends string = string>(
  registry: Registry,
  name: string,
  help: string,
  buckets: number[],
  labelNames: readonly L[] = [],
): Histogram<L> {
  return new Histogram({ name, help, buckets, labelNames, registers: [registry] });
}
