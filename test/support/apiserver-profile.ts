// kube-apiserver's CPU profile over a window (Go's pprof format; read it with `go tool pprof -top FILE`),
// from a control plane started with `apiserverProfiling`. Benchmarks use it to tell what a phase costs
// the API server, by function, beside the request counts.
import { writeFileSync } from 'node:fs';
import { type Cluster, kubectlBytes } from './cluster.ts';

/** Profiles the API server for `seconds` from now and writes the profile to `file`. */
export async function profileApiServer(cluster: Cluster, seconds: number, file: string): Promise<void> {
  const { code, stdout, stderr } = await kubectlBytes(cluster.kubeconfigPath, [
    'get',
    '--raw',
    `/debug/pprof/profile?seconds=${seconds}`,
    `--request-timeout=${seconds + 60}s`,
  ]);
  if (code !== 0)
    throw new Error(`API server profile: kubectl exited with ${code}: ${stderr.toString().trim()}`);
  writeFileSync(file, stdout);
}
