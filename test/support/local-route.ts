// A whole address range made local on this machine (`ip route ... local <cidr> dev lo`), as 127.0.0.0/8
// is: any address in it can be bound and dialled without adding it to an interface. Fake pods get their
// IPs from such a range when EndpointSlices must accept them (the API server refuses loopback
// addresses, and the EndpointSlice controller then retries every Service forever). Needs root (or
// CAP_NET_ADMIN), as the process kubelet's pod IPs do (pod-ips.ts).
import { execFileSync } from 'node:child_process';

/** Makes the IPv4 range `cidr` local until the returned function runs (also at process exit). */
export function routeLocally(cidr: string): () => void {
  const network = networkOf(cidr);
  const args = (verb: string) => ['route', verb, 'local', network, 'dev', 'lo', 'table', 'local'];
  execFileSync('ip', args('replace'));
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    process.removeListener('exit', remove);
    try {
      execFileSync('ip', args('del'), { stdio: 'ignore' });
    } catch {
      // already gone (removed by hand, or never added)
    }
  };
  process.on('exit', remove);
  return remove;
}

/** `198.19.0.1/16` → `198.19.0.0/16` (`ip route` wants the network address). */
export function networkOf(cidr: string): string {
  const [ip = '', bits = '32'] = cidr.split('/');
  const n = ip.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const size = 2 ** (32 - Number(bits));
  const base = n - (n % size);
  return `${[24, 16, 8, 0].map((shift) => Math.floor(base / 2 ** shift) % 256).join('.')}/${bits}`;
}
