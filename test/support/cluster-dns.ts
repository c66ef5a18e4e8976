// Cluster DNS for the process kubelet's pods. There is no kube-dns and no kube-proxy: a Service name
// (`<svc>.<ns>.svc[.cluster.local]`) is resolved straight to the ready addresses of its EndpointSlices
// (what a headless Service answers; for a ClusterIP Service it is where kube-proxy would send the
// traffic, as long as port = targetPort, which holds for every Service we render). The kubelet writes the
// table to a JSON file; `cluster-dns-preload.ts`, imported into the pod's Node process, answers from it.
import { renameSync, writeFileSync } from 'node:fs';
import type { V1EndpointSlice } from '@kubernetes/client-node';
import type { KubeRest } from '../../operator/kube/rest.ts';

export const CLUSTER_DNS_ENV = 'CALLFLEET_CLUSTER_DNS';

/** name → IPv4 addresses, for every Service with ready endpoints. */
export async function clusterDnsTable(rest: KubeRest): Promise<Record<string, string[]>> {
  const slices = (await rest.get<{ items: V1EndpointSlice[] }>('/apis/discovery.k8s.io/v1/endpointslices'))
    .items;
  const table: Record<string, string[]> = {};
  for (const slice of slices) {
    const service = slice.metadata?.labels?.['kubernetes.io/service-name'];
    const namespace = slice.metadata?.namespace;
    if (!service || !namespace || slice.addressType !== 'IPv4') continue;
    const ips = (slice.endpoints ?? [])
      .filter((e) => e.conditions?.ready !== false)
      .flatMap((e) => e.addresses);
    for (const name of [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`]) {
      table[name] = [...new Set([...(table[name] ?? []), ...ips])].sort();
    }
  }
  return table;
}

/** Writes the table atomically (readers never see half a file); returns it. */
export async function writeClusterDns(rest: KubeRest, file: string): Promise<Record<string, string[]>> {
  const table = await clusterDnsTable(rest);
  writeFileSync(`${file}.tmp`, JSON.stringify(table));
  renameSync(`${file}.tmp`, file);
  return table;
}
