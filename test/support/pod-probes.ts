// Kubelet probes against a process pod: httpGet (2xx/3xx), tcpSocket (connects), exec (exit 0,
// run as a local command). Each call is one probe attempt bounded by timeoutSeconds.
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import type { V1Container, V1Probe } from '@kubernetes/client-node';

export function probeTiming(probe: V1Probe) {
  return {
    initialDelayMs: (probe.initialDelaySeconds ?? 0) * 1000,
    periodMs: (probe.periodSeconds ?? 10) * 1000,
    timeoutMs: (probe.timeoutSeconds ?? 1) * 1000,
    successThreshold: probe.successThreshold ?? 1,
    failureThreshold: probe.failureThreshold ?? 3,
  };
}

function resolvePort(port: number | string | undefined, container: V1Container): number {
  if (typeof port === 'number') return port;
  if (port && /^\d+$/.test(port)) return Number(port);
  const named = container.ports?.find((p) => p.name === port);
  if (!named) throw new Error(`probe port "${port}" is not a port of container ${container.name}`);
  return named.containerPort;
}

/** true = success. `rewrite` maps mount paths in exec commands to the pod's local directories. */
export async function runProbe(
  probe: V1Probe,
  container: V1Container,
  podIP: string,
  rewrite: (argv: string[]) => { argv: string[]; env: Record<string, string | undefined> },
): Promise<boolean> {
  const { timeoutMs } = probeTiming(probe);
  if (probe.httpGet) {
    const h = probe.httpGet;
    const scheme = (h.scheme ?? 'HTTP').toLowerCase();
    const host = h.host || podIP;
    const url = `${scheme}://${host}:${resolvePort(h.port as number | string, container)}${h.path ?? '/'}`;
    const headers: Record<string, string> = { 'user-agent': 'kube-probe/1.34', accept: '*/*' };
    for (const header of h.httpHeaders ?? []) headers[header.name] = header.value;
    try {
      const res = await fetch(url, { headers, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
      await res.arrayBuffer().catch(() => undefined);
      return res.status >= 200 && res.status < 400;
    } catch {
      return false;
    }
  }
  if (probe.tcpSocket) {
    const port = resolvePort(probe.tcpSocket.port as number | string, container);
    return new Promise((resolve) => {
      const socket = connect({ host: probe.tcpSocket?.host || podIP, port, timeout: timeoutMs });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(false));
    });
  }
  if (probe.exec?.command?.length) {
    const { argv, env } = rewrite(probe.exec.command);
    const [command, ...args] = argv;
    if (!command) return false;
    return new Promise((resolve) => {
      execFile(command, args, { env: env as NodeJS.ProcessEnv, timeout: timeoutMs }, (error) =>
        resolve(!error),
      );
    });
  }
  // grpc probes: the images we run have none; treat as passing rather than pretending to speak gRPC.
  return true;
}
