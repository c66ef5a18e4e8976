// Benchmarks of API clients (the operator against a raw client) on a small machine: the control plane
// gets its own CPUs and the clients the others, as on EKS or GKE, where the API server runs on machines
// of its own. Unpinned, every CPU second a client spends is taken from the API server it is measured
// against, and the comparison measures the machine's contention instead of the API work. The same holds
// for a process that stands in for many machines (kwok for every kubelet): it can be put ahead of the rest.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { cpus, setPriority } from 'node:os';
import type { Cluster } from './cluster.ts';

export interface Pinning {
  controlPlaneCpus: string;
  clientCpus: string;
}

/**
 * Pins every process of the cluster (all threads) to the first half of the CPUs and this process (and
 * the processes it starts from now on) to the rest. Undefined on a single CPU.
 */
export function pinControlPlane(cluster: Cluster): Pinning | undefined {
  const count = cpus().length;
  if (count < 2) return undefined;
  const half = Math.floor(count / 2);
  const range = (from: number, to: number) => (from === to ? String(from) : `${from}-${to}`);
  const pinning = { controlPlaneCpus: range(0, half - 1), clientCpus: range(half, count - 1) };
  for (const managed of cluster.processes.values()) {
    if (managed.child.pid) taskset(pinning.controlPlaneCpus, managed.child.pid);
  }
  taskset(pinning.clientCpus, process.pid);
  return pinning;
}

function taskset(cpuList: string, pid: number): void {
  execFileSync('taskset', ['--all-tasks', '--cpu-list', '--pid', cpuList, String(pid)], { stdio: 'ignore' });
}

/** Niceness per control-plane process name (`kwok=-10,kube-apiserver=-5`; empty or `none`: none). */
export function parseNiceness(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  if (text === '' || text === 'none') return out;
  for (const entry of text.split(',')) {
    const [name, value, extra] = entry.split('=');
    const niceness = Number(value);
    if (!name || extra !== undefined || !/^-?\d+$/.test(value ?? '') || niceness < -20 || niceness > 19)
      throw new Error(`niceness "${entry}": expected name=n with n an integer from -20 to 19`);
    out[name] = niceness;
  }
  return out;
}

/**
 * Sets the niceness of the named cluster processes, every thread of each (setpriority takes a thread id
 * on Linux; threads started later inherit it). Returns what took effect: a negative niceness needs root,
 * and a process that refuses keeps its priority (`onRefused` says why).
 */
export function reniceProcesses(
  cluster: Pick<Cluster, 'processes'>,
  niceness: Record<string, number>,
  onRefused: (name: string, error: unknown) => void,
): Record<string, number> {
  const applied: Record<string, number> = {};
  for (const [name, n] of Object.entries(niceness)) {
    // `kwok` is also every `kwok-<i>` (one per node, ClusterOptions.kwokPerNode).
    const pids = [...cluster.processes]
      .filter(([process]) => process === name || new RegExp(`^${name}-\\d+$`).test(process))
      .map(([, managed]) => managed.child.pid);
    if (!pids.length || pids.some((pid) => !pid))
      throw new Error(`niceness: no control-plane process named ${name}`);
    try {
      for (const pid of pids)
        for (const task of readdirSync(`/proc/${pid}/task`)) setPriority(Number(task), n);
      applied[name] = n;
    } catch (error) {
      onRefused(name, error);
    }
  }
  return applied;
}
