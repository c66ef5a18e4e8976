// The pod's ServiceAccount token, as the kubelet's projected volume would give it: a TokenRequest bound
// to the pod, handed to the process as a kubeconfig (KUBECONFIG) against the test API server, so a
// controller pod's `loadFromDefault()` authenticates as its ServiceAccount — with exactly the rights
// its RBAC grants. Pods with `automountServiceAccountToken: false` get nothing, as in a real cluster.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import type { KubeRest } from '../../operator/kube/rest.ts';

/** The kubelet's default projected token lifetime is 1 h (refreshed); the test fleet never refreshes. */
const TOKEN_SECONDS = 7 * 24 * 3600;

export function automountsToken(pod: V1Pod): boolean {
  return pod.spec?.automountServiceAccountToken !== false;
}

/** Requests a pod-bound token and writes `<podDir>/serviceaccount/kubeconfig`; returns the env to add. */
export async function serviceAccountEnv(
  rest: KubeRest,
  kc: KubeConfig,
  pod: V1Pod,
  podDir: string,
): Promise<Record<string, string>> {
  if (!automountsToken(pod)) return {};
  const namespace = pod.metadata?.namespace ?? 'default';
  const account = pod.spec?.serviceAccountName || 'default';
  const response = await rest.create<{ status?: { token?: string } }>(
    `/api/v1/namespaces/${namespace}/serviceaccounts/${account}/token`,
    {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: {
        expirationSeconds: TOKEN_SECONDS,
        boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name, uid: pod.metadata?.uid },
      },
    },
  );
  const token = response.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${account} returned no token`);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubelet kubeconfig has no current cluster');
  const dir = join(podDir, 'serviceaccount');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'kubeconfig');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'in-cluster',
        cluster: {
          server: cluster.server,
          ...(cluster.caData ? { 'certificate-authority-data': cluster.caData } : {}),
          ...(cluster.caFile ? { 'certificate-authority': cluster.caFile } : {}),
        },
      },
    ],
    users: [{ name: account, user: { token } }],
    contexts: [{ name: 'in-cluster', context: { cluster: 'in-cluster', user: account, namespace } }],
    'current-context': 'in-cluster',
  };
  writeFileSync(path, JSON.stringify(config), { mode: 0o600 });
  return { KUBECONFIG: path };
}
