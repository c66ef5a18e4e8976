// `--store NAME`: the connection URL and encryption key of a MemoryStore, read through the Kubernetes
// API (the MemoryStore's status.connectionSecret and spec.encryption.keySecretRef, then those Secrets).
// The URL names the in-cluster Service (`<svc>.<ns>.svc`), which a laptop cannot resolve: `--host`
// swaps host and port (e.g. for `kubectl port-forward`) and keeps the credentials from the Secret.
import { lookup } from 'node:dns/promises';
import type { CoreV1Api } from '@kubernetes/client-node';

export interface StoreLookupOptions {
  store: string;
  namespace?: string;
  kubeconfig?: string;
  /** Read the encryption key Secret too (export/forget need it; audit and migrate do not). */
  withEncryptionKey: boolean;
}

export interface StoreConnection {
  namespace: string;
  url: string;
  /** `namespace/name key` of the Secret the URL came from, for error messages. */
  urlSource: string;
  encryptionKey?: string;
  /** PEM CA of the server (status.caBundle): the CLI connects verify-full with it. */
  ca?: string;
}

interface SecretRef {
  name: string;
  key: string;
}

interface MemoryStoreObject {
  spec?: { engine?: string; encryption?: { keySecretRef?: SecretRef } };
  status?: {
    connectionSecret?: Partial<SecretRef>;
    caBundle?: Partial<SecretRef> & { kind?: 'Secret' | 'ConfigMap' };
  };
}

export class StoreLookupError extends Error {}

export async function lookupMemoryStore(options: StoreLookupOptions): Promise<StoreConnection> {
  // Loaded only for --store: the client takes seconds to import on a busy machine.
  const { CoreV1Api, CustomObjectsApi, KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  try {
    if (options.kubeconfig) kc.loadFromFile(options.kubeconfig);
    else kc.loadFromDefault();
  } catch (error) {
    throw new StoreLookupError(`--kubeconfig ${options.kubeconfig}: ${(error as Error).message}`);
  }
  const namespace = options.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  const what = `MemoryStore ${namespace}/${options.store}`;

  const store = (await kubeCall(what, () =>
    kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
      group: 'callfleet.io',
      version: 'v1alpha1',
      namespace,
      plural: 'memorystores',
      name: options.store,
    }),
  )) as MemoryStoreObject;

  const ref = store.status?.connectionSecret;
  if (!ref?.name || !ref.key) {
    throw new StoreLookupError(
      `${what} has no status.connectionSecret yet (the operator writes it once the store is reconciled; ` +
        'check `kubectl get mstore`), or pass --database-url',
    );
  }
  const core = kc.makeApiClient(CoreV1Api);
  const url = await secretValue(core, namespace, { name: ref.name, key: ref.key });
  const connection: StoreConnection = {
    namespace,
    url,
    urlSource: `Secret ${namespace}/${ref.name} key ${ref.key}`,
  };
  const caRef = store.status?.caBundle;
  if (caRef?.name && caRef.key) {
    const ref = { name: caRef.name, key: caRef.key };
    connection.ca =
      caRef.kind === 'ConfigMap'
        ? await configMapValue(core, namespace, ref)
        : await secretValue(core, namespace, ref);
  }
  if (options.withEncryptionKey) {
    // The operator's default when the spec names none (cdk8s/charts/labels.ts memoryStoreNames).
    const keyRef = store.spec?.encryption?.keySecretRef ?? {
      name: `${options.store}-encryption`,
      key: 'key',
    };
    connection.encryptionKey = await secretValue(core, namespace, keyRef);
  }
  return connection;
}

async function secretValue(core: CoreV1Api, namespace: string, ref: SecretRef): Promise<string> {
  const what = `Secret ${namespace}/${ref.name}`;
  const secret = await kubeCall(what, () => core.readNamespacedSecret({ name: ref.name, namespace }));
  const encoded = secret.data?.[ref.key];
  if (encoded === undefined) throw new StoreLookupError(`${what} has no key "${ref.key}"`);
  return Buffer.from(encoded, 'base64').toString('utf8').trim();
}

async function configMapValue(core: CoreV1Api, namespace: string, ref: SecretRef): Promise<string> {
  const what = `ConfigMap ${namespace}/${ref.name}`;
  const map = await kubeCall(what, () => core.readNamespacedConfigMap({ name: ref.name, namespace }));
  const value = map.data?.[ref.key];
  if (value === undefined) throw new StoreLookupError(`${what} has no key "${ref.key}"`);
  return value;
}

async function kubeCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const code = (error as { code?: number }).code;
    if (code === 404) throw new StoreLookupError(`${what}: not found`);
    if (code === 401 || code === 403) {
      throw new StoreLookupError(`${what}: not allowed to read it with this kubeconfig (HTTP ${code})`);
    }
    throw new StoreLookupError(`${what}: ${(error as Error).message ?? String(error)}`);
  }
}

/** Replaces host and port of a connection URL, keeping user, password, database and parameters. */
export function overrideHost(url: string, hostPort: string): string {
  if (!/^(\[[0-9a-fA-F:.]+\]|[^:/@[\]\s]+):\d{1,5}$/.test(hostPort)) {
    throw new StoreLookupError(`--host ${hostPort}: expected HOST:PORT (e.g. 127.0.0.1:5432)`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new StoreLookupError(
      'the connection URL is not a URL (its value is not shown: it holds a password)',
    );
  }
  parsed.host = hostPort;
  return parsed.toString();
}

/**
 * Fails early, with what to do, when the URL's host does not resolve here: typically the in-cluster
 * `<svc>.<ns>.svc` name read from the store's Secret on a laptop.
 */
export async function assertHostResolves(url: string, source: string): Promise<void> {
  let host: string;
  let port: string;
  try {
    const parsed = new URL(url);
    host = parsed.hostname.replace(/^\[|\]$/g, '');
    port = parsed.port || '5432';
  } catch {
    return; // not a URL (e.g. a libpq keyword string): let the driver report it
  }
  if (!host || host.startsWith('/')) return;
  try {
    // A resolver with no route out can take many seconds to say no; 3 s is plenty for a real name.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('DNS lookup timed out')), 3000);
    });
    await Promise.race([lookup(host), timeout]).finally(() => clearTimeout(timer));
  } catch {
    const service = /^([^.]+)\.([^.]+)\.svc(\.|$)/.exec(host);
    const forward = service
      ? `kubectl port-forward -n ${service[2]} svc/${service[1]} ${port}:${port}` +
        ` and add --host 127.0.0.1:${port}`
      : `pass --host HOST:PORT`;
    throw new StoreLookupError(
      `database host ${host} (from ${source}) does not resolve from here (an in-cluster Service address?): ` +
        `${forward}, or pass --database-url`,
    );
  }
}
