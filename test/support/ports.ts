// Ports for the processes tests start (kube-apiserver, etcd, nginx, gateways...), which bind them a
// moment after we choose them. A port the kernel hands out for listen(0) comes from the ephemeral range,
// the same range every outgoing connection's local port is taken from: under a suite that opens
// thousands of connections, one of them could take the port before the process bound it (CI: a
// kube-apiserver failed with "bind: address already in use" and the readiness probe talked to the
// connection's peer for 60 s). So ports are chosen below the ephemeral range, where the kernel never
// picks local ports, at random and checked free; listen(0) remains the fallback.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const LOWEST = 20_000;
const TRIES = 50;

/** The first port of the kernel's ephemeral range (Linux: ip_local_port_range), else 32768. */
function ephemeralStart(): number {
  try {
    const first = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
    );
    return Number.isInteger(first) && first > LOWEST + 1000 ? first : 32_768;
  } catch {
    return 32_768;
  }
}

const END = ephemeralStart();

/** Listens on `port` (0: any) and closes again; the port bound, or undefined when it was taken. */
function probe(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(undefined));
    server.listen({ port, host, exclusive: true }, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : undefined));
    });
  });
}

/** A TCP port below the ephemeral range that was free on the given loopback address a moment ago. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < TRIES; i++) {
    const port = LOWEST + Math.floor(Math.random() * (END - LOWEST));
    if ((await probe(port, host)) !== undefined) return port;
  }
  const any = await probe(0, host);
  if (any === undefined) throw new Error(`no free port on ${host}`);
  return any;
}
