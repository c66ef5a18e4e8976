// One line per metric: the gateway, its memory and recordings and the operator declare their metrics
// through these, on the registry they are given (never prom-client's global one by accident).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Where a metric goes, its name, help text and label names. */
type Declared<L extends string> = [registry: Registry, name: string, help: string, labelNames?: readonly L[]];

const options = <L extends string>([registry, name, help, labelNames = []]: Declared<L>) => ({
  name,
  help,
  labelNames,
  registers: [registry],
});

/** A counter on the given registry. */
export const counter = <const L extends string = string>(...d: Declared<L>) => new Counter<L>(options(d));

/** A gauge on the given registry. */
export const gauge = <const L extends string = string>(...d: Declared<L>) => new Gauge<L>(options(d));

/** A histogram on the given registry with the given bucket bounds (seconds, bytes…). */
export const histogram = <const L extends string = string>(
  registry: Registry,
  name: string,
  help: string,
  buckets: number[],
  labelNames: readonly L[] = [],
) => new Histogram<L>({ ...options([registry, name, help, labelNames]), buckets });
