// How callfleet reaches the API server. In a pod: its ServiceAccount (the token is re-read as the
// kubelet rotates it). Elsewhere: a kubeconfig (the file given, $KUBECONFIG, ~/.kube/config).
// Static credentials (certificates, a token, a token file) are read here, without loading
// @kubernetes/client-node: its generated API clients cost about 80 MB of resident memory by being
// imported, more than everything the operator caches for a thousand pods (ADR 0021). A kubeconfig that
// needs a plugin or a merge (exec such as `aws eks get-token`, auth-provider, several files in
// $KUBECONFIG, a proxy) is handed to client-node's KubeConfig, loaded only then.
import { existsSync, readFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';

/** What a request needs to reach the API server. */
export interface KubeAccess {
  /** The API server's base URL, without a trailing slash. */
  readonly server: string;
  /** The current context's namespace, when it names one. */
  readonly namespace?: string;
  /** TLS material (the same for every request: set once on the connection agent). */
  readonly tls: Pick<RequestOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername'>;
  /** Per-request credentials (an Authorization header), when the access has a token. */
  authorize(options: RequestOptions): Promise<void>;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** client-go re-reads a projected token at most once a minute; the kubelet renews it long before expiry. */
const TOKEN_REREAD_MS = 60_000;

/** The API server from a kubeconfig file, or the default chain (as kubectl and client-node look). */
export async function loadKubeAccess(kubeconfig?: string): Promise<KubeAccess> {
  if (kubeconfig) return fromKubeconfigFile(kubeconfig);
  const fromEnv = (process.env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  if (fromEnv.length > 1) return viaClientNode((kc) => kc.loadFromDefault());
  if (fromEnv.length === 1) return fromKubeconfigFile(fromEnv[0] as string);
  const home = join(homedir(), '.kube', 'config');
  if (existsSync(home)) return fromKubeconfigFile(home);
  return inCluster();
}

/** A client-node KubeConfig (tests, plugins) as an access. */
export function fromKubeConfig(kc: KubeConfig): KubeAccess {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  return {
    server: cluster.server.replace(/\/$/, ''),
    namespace: kc.getContextObject(kc.getCurrentContext())?.namespace,
    tls: {},
    // client-node caches what its plugins return; it also sets the TLS material on each request.
    authorize: (options) => kc.applyToHTTPSOptions(options),
  };
}

export function inCluster(dir = SERVICE_ACCOUNT_DIR, env = process.env): KubeAccess {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new Error(
      'no kubeconfig found (--kubeconfig, $KUBECONFIG, ~/.kube/config) and not in a pod (KUBERNETES_SERVICE_HOST is unset)',
    );
  }
  return {
    server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
    namespace: readIfExists(join(dir, 'namespace'))?.trim(),
    tls: { ca: readFileSync(join(dir, 'ca.crt'), 'utf8') },
    authorize: bearerFromFile(join(dir, 'token')),
  };
}

interface Named<T> {
  name: string;
  [key: string]: unknown;
  cluster?: T;
  user?: T;
  context?: T;
}
type Fields = Record<string, unknown>;

/** Fields that need client-node (a plugin to run, a proxy, basic auth). */
const PLUGIN_USER_FIELDS = ['exec', 'auth-provider', 'username', 'password', 'as', 'as-groups'];

export async function fromKubeconfigFile(path: string): Promise<KubeAccess> {
  const text = readFileSync(path, 'utf8');
  const config = (parse(text) ?? {}) as Fields;
  const base = dirname(resolve(path));
  const find = <K extends 'cluster' | 'user' | 'context'>(list: string, name: unknown, key: K): Fields => {
    const entry = ((config[list] as Named<Fields>[] | undefined) ?? []).find((e) => e.name === name);
    if (!entry) throw new Error(`${path}: no ${key} named "${String(name)}" (${list})`);
    return (entry[key] as Fields | undefined) ?? {};
  };
  const current = config['current-context'];
  if (!current) throw new Error(`${path}: no current-context`);
  const context = find('contexts', current, 'context');
  const cluster = find('clusters', context.cluster, 'cluster');
  const user = context.user === undefined ? {} : find('users', context.user, 'user');
  if (PLUGIN_USER_FIELDS.some((f) => user[f] !== undefined) || cluster['proxy-url'] !== undefined) {
    return viaClientNode((kc) => kc.loadFromFile(path));
  }
  if (typeof cluster.server !== 'string')
    throw new Error(`${path}: cluster "${context.cluster}" has no server`);
  // PEM text, not Buffers: the agent names its connection pool after them on every request.
  const material = (dataKey: string, fileKey: string): string | undefined => {
    if (typeof cluster[dataKey] === 'string' || typeof user[dataKey] === 'string') {
      return Buffer.from(String(cluster[dataKey] ?? user[dataKey]), 'base64').toString('utf8');
    }
    const file = cluster[fileKey] ?? user[fileKey];
    return typeof file === 'string' ? readFileSync(resolve(base, file), 'utf8') : undefined;
  };
  const token = typeof user.token === 'string' ? user.token : undefined;
  const tokenFile = typeof user.tokenFile === 'string' ? resolve(base, user.tokenFile) : undefined;
  return {
    server: cluster.server.replace(/\/$/, ''),
    namespace: typeof context.namespace === 'string' ? context.namespace : undefined,
    tls: {
      ca: material('certificate-authority-data', 'certificate-authority'),
      cert: material('client-certificate-data', 'client-certificate'),
      key: material('client-key-data', 'client-key'),
      rejectUnauthorized: cluster['insecure-skip-tls-verify'] !== true,
      servername: typeof cluster['tls-server-name'] === 'string' ? cluster['tls-server-name'] : undefined,
    },
    authorize: tokenFile ? bearerFromFile(tokenFile) : token ? bearer(() => token) : async () => {},
  };
}

async function viaClientNode(load: (kc: KubeConfig) => void): Promise<KubeAccess> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  load(kc);
  return fromKubeConfig(kc);
}

function bearer(token: () => string): (options: RequestOptions) => Promise<void> {
  return async (options) => {
    options.headers = { ...options.headers, Authorization: `Bearer ${token()}` };
  };
}

/** A token file, re-read at most once a minute (projected ServiceAccount tokens rotate). */
export function bearerFromFile(
  path: string,
  rereadMs = TOKEN_REREAD_MS,
): (options: RequestOptions) => Promise<void> {
  let token = '';
  let readAt = Number.NEGATIVE_INFINITY;
  return bearer(() => {
    if (performance.now() - readAt >= rereadMs) {
      token = readFileSync(path, 'utf8').trim();
      readAt = performance.now();
    }
    return token;
  });
}

function readIfExists(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}
