// kube-apiserver's CPU profile over a window (Go's pprof format; read it with `go tool pprof -top FILE`),
// from a control plane started with `apiserverProfiling`. Benchmarks use it to tell what a phase costs
// the API server, by function, beside the request counts.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { Cluster } from './cluster.ts';

/** Profiles the API server for `seconds` from now and writes the profile to `file`. */
export function profileApiServer(cluster: Cluster, seconds: number, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      'kubectl',
      ['--kubeconfig', cluster.kubeconfigPath, 'get', '--raw', `/debug/pprof/profile?seconds=${seconds}`],
      { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024, timeout: (seconds + 60) * 1000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`API server profile: ${String(error)} ${stderr.toString()}`));
        else {
          writeFileSync(file, stdout);
          resolve();
        }
      },
    );
  });
}
