// Imported (`node --import`) into pod processes of the process kubelet: `dns.lookup` answers Service
// names from the table the kubelet keeps in $CALLFLEET_CLUSTER_DNS (see cluster-dns.ts) and asks the
// system resolver for everything else. No-op without the variable.
import dns, { type LookupAddress, type LookupOptions } from 'node:dns';
import { readFileSync } from 'node:fs';

const file = process.env.CALLFLEET_CLUSTER_DNS;

function resolveService(hostname: string): string[] | undefined {
  if (!file || !/\.svc(\.cluster\.local)?\.?$/.test(hostname)) return undefined;
  try {
    const table = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string[]>;
    return table[hostname.replace(/\.$/, '')] ?? [];
  } catch {
    return [];
  }
}

if (file) {
  const systemLookup = dns.lookup;
  type Callback = (
    err: NodeJS.ErrnoException | null,
    address?: string | LookupAddress[],
    family?: number,
  ) => void;
  const lookup = (hostname: string, options: unknown, callback?: unknown) => {
    const cb = (typeof options === 'function' ? options : callback) as Callback;
    const opts = (typeof options === 'object' && options !== null ? options : {}) as LookupOptions;
    const ips = resolveService(hostname);
    if (ips === undefined) return (systemLookup as (...a: unknown[]) => void)(hostname, options, callback);
    process.nextTick(() => {
      if (ips.length === 0) {
        const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
          code: 'ENOTFOUND',
          syscall: 'getaddrinfo',
          hostname,
        });
        return cb(err);
      }
      // Several ready endpoints: pick one per lookup (kube-proxy spreads connections too).
      const shuffled = [...ips].sort(() => Math.random() - 0.5);
      if (opts.all)
        return cb(
          null,
          shuffled.map((address) => ({ address, family: 4 })),
        );
      cb(null, shuffled[0], 4);
    });
  };
  dns.lookup = lookup as typeof dns.lookup;
}
