// What the API server has served, from its own /metrics: the benchmarks explain a ratio with it.
import type { Cluster } from './cluster.ts';
import { kubectlOk } from './kube-helpers.ts';

/** apiserver_request_total by "VERB resource[/subresource]" (watches excluded: they count once, when opened). */
export async function apiServerRequests(cluster: Cluster): Promise<Record<string, number>> {
  return requestsByVerbAndResource(await kubectlOk(cluster, ['get', '--raw', '/metrics']));
}

export function requestsByVerbAndResource(metricsText: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of metricsText.matchAll(/^apiserver_request_total\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries(
      [...(m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]),
    );
    if (labels.verb === 'WATCH') continue;
    const key = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ''}`;
    out[key] = (out[key] ?? 0) + Number(m[2]);
  }
  return out;
}
