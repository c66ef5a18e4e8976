// A real Prometheus server for tests (built from the Go module proxy by `make tools`), evaluating the
// shipped rules with time compressed, and a watcher that records every alert's state transitions.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { toolPath } from '../cluster/tools.ts';
import { freePort } from '../support/ports.ts';
import { type Managed, startProcess, waitFor } from '../support/processes.ts';
import type { AlertRule } from './names.ts';

export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

function seconds(duration: string): number {
  let total = 0;
  for (const [, n, unit] of duration.matchAll(/(\d+)([smhd])/g))
    total += Number(n) * (UNIT_SECONDS[unit ?? 's'] ?? 1);
  return total;
}

/**
 * The rules with every duration divided by `factor` (minutes become seconds at 60): `for:` and the range
 * selectors `[5m]` of the expressions, with floors so a rate window still holds several 1 s scrapes and a
 * pending state lasts long enough to be seen.
 */
export function compressRules(groups: RuleGroup[], factor = 60, minFor = 3, minRange = 5): RuleGroup[] {
  const range = (d: string) => `${Math.max(minRange, Math.round(seconds(d) / factor))}s`;
  return groups.map((g) => ({
    name: g.name,
    interval: '1s',
    rules: g.rules.map((r) => ({
      ...r,
      expr: r.expr.replace(/\[(\d+[smhd])\]/g, (_m, d: string) => `[${range(d)}]`),
      ...(r.for ? { for: `${Math.max(minFor, Math.round(seconds(r.for) / factor))}s` } : {}),
    })),
  }));
}

export interface ScrapeJob {
  job: string;
  targets: { address: string; labels: Record<string, string> }[];
}

export interface PrometheusServer {
  url: string;
  process: Managed;
  stop(): Promise<void>;
}

export async function startPrometheus(
  dir: string,
  rules: RuleGroup[],
  jobs: ScrapeJob[],
): Promise<PrometheusServer> {
  mkdirSync(join(dir, 'data'), { recursive: true });
  writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: rules }));
  writeFileSync(
    join(dir, 'prometheus.yaml'),
    stringify({
      global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
      rule_files: [join(dir, 'rules.yaml')],
      scrape_configs: jobs.map((j) => ({
        job_name: j.job,
        static_configs: j.targets.map((t) => ({ targets: [t.address], labels: t.labels })),
      })),
    }),
  );
  const port = await freePort();
  const process = startProcess(
    'prometheus',
    toolPath('prometheus'),
    [
      `--config.file=${join(dir, 'prometheus.yaml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    join(dir, 'prometheus.log'),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor('prometheus /-/ready', async () => (await fetch(`${url}/-/ready`)).ok, 60_000);
  return { url, process, stop: () => process.stop('SIGTERM', 10_000) };
}

export type AlertState = 'inactive' | 'pending' | 'firing';

export interface Transition {
  /** Seconds since the watcher started. */
  at: number;
  alert: string;
  labels: string;
  from: AlertState;
  to: AlertState;
}

/** Polls /api/v1/alerts and records each alert's (name + labels) state changes; absent = inactive. */
export class AlertWatcher {
  readonly transitions: Transition[] = [];
  readonly #states = new Map<string, AlertState>();
  readonly #start = performance.now();
  readonly #url: string;
  readonly #log: (line: string) => void;
  #timer: NodeJS.Timeout | undefined;
  #polling = false;

  constructor(url: string, log: (line: string) => void = (line) => console.log(line)) {
    this.#url = url;
    this.#log = log;
  }

  start(intervalMs = 200): void {
    this.#timer = setInterval(() => void this.poll(), intervalMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      const response = await fetch(`${this.#url}/api/v1/alerts`);
      if (!response.ok) return;
      const body = (await response.json()) as {
        data: { alerts: { labels: Record<string, string>; state: AlertState }[] };
      };
      const seen = new Map<string, AlertState>();
      for (const a of body.data.alerts) {
        const { alertname = '', ...rest } = a.labels;
        const labels = Object.entries(rest)
          .filter(([k]) => k !== 'severity')
          .map(([k, v]) => `${k}=${v}`)
          .sort()
          .join(',');
        seen.set(`${alertname}{${labels}}`, a.state);
      }
      for (const key of new Set([...seen.keys(), ...this.#states.keys()])) {
        const from = this.#states.get(key) ?? 'inactive';
        const to = seen.get(key) ?? 'inactive';
        if (from === to) continue;
        const [, alert = '', labels = ''] = /^([^{]*)\{(.*)\}$/.exec(key) ?? [];
        const at = (performance.now() - this.#start) / 1000;
        this.transitions.push({ at, alert, labels, from, to });
        this.#log(`[alerts] +${at.toFixed(1)}s ${alert}{${labels}}: ${from} -> ${to}`);
        if (to === 'inactive') this.#states.delete(key);
        else this.#states.set(key, to);
      }
    } catch {
      // Prometheus restarting or busy: the next poll catches up.
    } finally {
      this.#polling = false;
    }
  }

  /** The states `alert` went through (labels containing `match`), in order, since `sinceSeconds`. */
  path(alert: string, match = '', sinceSeconds = 0): AlertState[] {
    const path: AlertState[] = [];
    for (const t of this.transitions) {
      if (t.alert !== alert || !t.labels.includes(match) || t.at < sinceSeconds) continue;
      if (!path.length) path.push(t.from);
      path.push(t.to);
    }
    return path;
  }

  /** Alerts pending or firing now (`name{labels}`). */
  active(): string[] {
    return [...this.#states.keys()];
  }

  now(): number {
    return (performance.now() - this.#start) / 1000;
  }

  async waitFor(alert: string, state: AlertState, match = '', sinceSeconds = 0, timeoutMs = 60_000) {
    await waitFor(
      `${alert}{${match}} ${state}`,
      async () =>
        this.transitions.some(
          (t) => t.alert === alert && t.labels.includes(match) && t.to === state && t.at >= sinceSeconds,
        ),
      timeoutMs,
      200,
    );
  }
}
