// Benchmarks of API clients (the operator against a raw client) on a small machine: the control plane
// gets its own CPUs and the clients the others, as on EKS or GKE, where the API server runs on machines
// of its own. Unpinned, every CPU second a client spends is taken from the API server it is measured
// against, and the comparison measures the machine's contention instead of the API work.
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
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
