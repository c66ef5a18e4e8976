// Runs `callfleet operator` as a real process against a test cluster, and reads its metrics.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OPERATOR_NODE_OPTIONS } from '../../operator/node-options.ts';
import type { Cluster } from './cluster.ts';
import type { MemoryCgroup } from './memory-cgroup.ts';
import { freePort } from './ports.ts';
import { type Managed, startProcess, waitFor } from './processes.ts';

const root = new URL('../../', import.meta.url).pathname;

export interface OperatorProcess {
  process: Managed;
  metricsUrl: string;
  logFile: string;
  /** Sum of a metric's samples whose labels include `labels`. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

export interface OperatorOptions {
  env?: Record<string, string>;
  /** Run inside this memory cgroup, as in a pod with a memory limit (Node sizes its heap from it). */
  memory?: MemoryCgroup;
  /** The `callfleet` binary to run: the sources (default) or the image's JavaScript (`imageJs()`). */
  binary?: string;
}

export async function startOperator(
  cluster: Cluster,
  extraArgs: string[] = [],
  name = 'operator',
  options: OperatorOptions = {},
): Promise<OperatorProcess> {
  const port = await freePort();
  const logFile = join(mkdtempSync(join(tmpdir(), 'callfleet-operator-')), `${name}.log`);
  const args = [
    options.binary ?? join(root, 'bin/callfleet.ts'),
    'operator',
    `--kubeconfig=${cluster.kubeconfigPath}`,
    `--metrics-addr=127.0.0.1:${port}`,
    '--lease-namespace=default',
    ...extraArgs,
  ];
  const command = options.memory?.wrap(process.execPath, args) ?? { command: process.execPath, args };
  const managed = startProcess(
    name,
    command.command,
    command.args,
    logFile,
    // As the chart runs it (operator.nodeOptions), unless the caller sets its own.
    { env: { NODE_OPTIONS: OPERATOR_NODE_OPTIONS, ...options.env } },
  );
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  await waitFor(`${name} /healthz`, async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 30_000);
  return {
    process: managed,
    metricsUrl,
    logFile,
    metric: async (metricName, labels = {}) =>
      sumMetric(await (await fetch(metricsUrl)).text(), metricName, labels),
    stop: () => managed.stop('SIGTERM', 10_000),
    kill: () => managed.stop('SIGKILL'),
  };
}

/** Sums the samples of `name` in Prometheus text whose labels include every pair in `labels`. */
export function sumMetric(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const sampleLabels = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => sampleLabels[k] === v)) total += Number(match[3]);
  }
  return total;
}

/** How much each counter grew between two snapshots (keys that did not grow left out), largest first. */
export function countsSince(
  before: Record<string, number>,
  now: Record<string, number>,
): Record<string, number> {
  return Object.fromEntries(
    Object.entries(now)
      .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
      .filter(([, v]) => v > 0)
      .sort((a, b) => b[1] - a[1]),
  );
}
