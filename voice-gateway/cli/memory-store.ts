// `--store NAME`: the connection URL and encryption key of a MemoryStore, read through the Kubernetes
// API (the MemoryStore's status.connectionSecret and spec.encryption.keySecretRef, then those Secrets)
// with the operator's own client (operator/kube/rest.ts): an admin command may use operator code, the
// gateway runtime never does.
// The URL names the in-cluster Service (`<svc>.<ns>.svc`), which a laptop cannot resolve: `--host`
// swaps host and port (e.g. for `kubectl port-forward`) and keeps the credentials from the Secret.
import { lookup } from 'node:dns/promises';
import { objectPath } from '../../operator/kube/resources.ts';
import type { KubeRest } from '../../operator/kube/rest.ts';
import { timedOut, within } from '../lib/deadline.ts';

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
  const [{ loadKubeAccess }, { KubeRest }] = await Promise.all([
    import('../../operator/kube/access.ts'),
    import('../../operator/kube/rest.ts'),
  ]);
  let kube: KubeRest;
  try {
    kube = new KubeRest(await loadKubeAccess(options.kubeconfig));
  } catch (error) {
    throw new StoreLookupError(`--kubeconfig ${options.kubeconfig ?? ''}: ${(error as Error).message}`);
  }
  const namespace = options.namespace ?? kube.namespace ?? 'default';
  const read = <T>(kind: string, apiVersion: string, name: string): Promise<T> =>
    kubeCall(`${kind} ${namespace}/${name}`, () =>
      kube.get<T>(objectPath({ apiVersion, kind, metadata: { name, namespace } })),
    );
  const value = async (kind: 'Secret' | 'ConfigMap', ref: SecretRef): Promise<string> => {
    const object = await read<{ data?: Record<string, string> }>(kind, 'v1', ref.name);
    const found = object.data?.[ref.key];
    if (found === undefined)
      throw new StoreLookupError(`${kind} ${namespace}/${ref.name} has no key "${ref.key}"`);
    return kind === 'Secret' ? Buffer.from(found, 'base64').toString('utf8').trim() : found;
  };

  const what = `MemoryStore ${namespace}/${options.store}`;
  const store = await read<MemoryStoreObject>('MemoryStore', 'callfleet.io/v1alpha1', options.store);
  const ref = store.status?.connectionSecret;
  if (!ref?.name || !ref.key) {
    throw new StoreLookupError(
      `${what} has no status.connectionSecret yet (the operator writes it once the store is reconciled; ` +
        'check `kubectl get mstore`), or pass --database-url',
    );
  }
  const url = await value('Secret', { name: ref.name, key: ref.key });
  const connection: StoreConnection = {
    namespace,
    url,
    urlSource: `Secret ${namespace}/${ref.name} key ${ref.key}`,
  };
  const caRef = store.status?.caBundle;
  if (caRef?.name && caRef.key) {
    connection.ca = await value(caRef.kind === 'ConfigMap' ? 'ConfigMap' : 'Secret', {
      name: caRef.name,
      key: caRef.key,
    });
  }
  if (options.withEncryptionKey) {
    // The operator's default when the spec names none (cdk8s/charts/labels.ts memoryStoreNames).
    const keyRef = store.spec?.encryption?.keySecretRef ?? {
      name: `${options.store}-encryption`,
      key: 'key',
    };
    connection.encryptionKey = await value('Secret', keyRef);
  }
  return connection;
}

async function kubeCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const status = (error as { status?: number }).status;
    if (status === 404) throw new StoreLookupError(`${what}: not found`);
    if (status === 401 || status === 403) {
      throw new StoreLookupError(`${what}: not allowed to read it with this kubeconfig (HTTP ${status})`);
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
    await within(lookup(host), 3000, timedOut('DNS lookup', 3000));
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
