// Small kubectl-based helpers shared by the integration tests.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { Cluster } from './cluster.ts';
import { waitFor } from './processes.ts';

export interface KObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { uid: string; kind: string; name: string }[];
    deletionTimestamp?: string;
  };
  spec?: Record<string, unknown> & { replicas?: number; maxReplicas?: number };
  status?: Record<string, unknown> & {
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    observedGeneration?: number;
  };
  data?: Record<string, string>;
}

const root = new URL('../../', import.meta.url).pathname;

export function example(path: string): KObject {
  const docs = parseAllDocuments(readFileSync(`${root}${path}`, 'utf8')).map((d) => d.toJS() as KObject);
  if (!docs[0]) throw new Error(`${path} has no document`);
  return docs[0];
}

export async function kubectlOk(cluster: Cluster, args: string[], input?: string): Promise<string> {
  const result = await cluster.kubectl(args, { input });
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

/**
 * Waits until CRDs are Established: the named ones, or every CRD in the cluster (`'all'`). `kubectl wait`
 * fails at once on a CRD so new that its status has no conditions yet; this waits for them instead.
 */
export async function waitForCrdsEstablished(
  cluster: Cluster,
  names: string[] | 'all',
  timeoutMs = 60_000,
): Promise<void> {
  let pending: string[] = names === 'all' ? ['(none listed yet)'] : names;
  try {
    await waitFor(
      'CRDs Established',
      async () => {
        const items = (
          JSON.parse(await kubectlOk(cluster, ['get', 'crd', '-o', 'json'])) as { items: KObject[] }
        ).items;
        const established = new Set(
          items
            .filter((crd) =>
              crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'),
            )
            .map((crd) => crd.metadata.name),
        );
        const wanted = names === 'all' ? items.map((crd) => crd.metadata.name) : names;
        pending = wanted.filter((name) => !established.has(name));
        return pending.length === 0;
      },
      timeoutMs,
      100,
    );
  } catch (error) {
    throw new Error(`${String(error)}; not Established: ${pending.join(', ')}`);
  }
}

export async function applyObjects(cluster: Cluster, namespace: string, objects: unknown[]): Promise<void> {
  const input = objects.map((o) => JSON.stringify(o)).join('\n');
  await kubectlOk(cluster, ['apply', '-n', namespace, '-f', '-'], input);
}

export async function getObject(
  cluster: Cluster,
  namespace: string,
  resource: string,
): Promise<KObject | null> {
  const result = await cluster.kubectl(['get', '-n', namespace, resource, '-o', 'json']);
  if (result.code !== 0) {
    if (/NotFound|not found/.test(result.stderr)) return null;
    throw new Error(result.stderr);
  }
  return JSON.parse(result.stdout) as KObject;
}

export async function listObjects(
  cluster: Cluster,
  namespace: string | undefined,
  resource: string,
  selector?: string,
): Promise<KObject[]> {
  const args = ['get', resource, '-o', 'json', ...(namespace ? ['-n', namespace] : ['-A'])];
  if (selector) args.push('-l', selector);
  return (JSON.parse(await kubectlOk(cluster, args)) as { items: KObject[] }).items;
}

export function isReady(object: KObject | null): boolean {
  if (!object) return false;
  const ready = object.status?.conditions?.find((c) => c.type === 'Ready');
  return ready?.status === 'True' && object.status?.observedGeneration === object.metadata.generation;
}

export async function waitForReady(
  cluster: Cluster,
  namespace: string,
  resource: string,
  timeoutMs = 60_000,
): Promise<KObject> {
  let last: KObject | null = null;
  try {
    await waitFor(
      `${resource} Ready`,
      async () => {
        last = await getObject(cluster, namespace, resource);
        return isReady(last);
      },
      timeoutMs,
      250,
    );
  } catch (error) {
    throw new Error(`${String(error)}; last status: ${JSON.stringify((last as KObject | null)?.status)}`);
  }
  return last as unknown as KObject;
}

/** The Secrets the examples/ reference, with fake values (a user creates them before the VoiceAgent). */
export function exampleSecrets(): KObject[] {
  const secret = (name: string, data: Record<string, string>) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name },
    stringData: data,
  });
  return [
    secret('twilio', { 'account-sid': 'AC00000000000000000000000000000000', 'auth-token': 'test-token' }),
    secret('elevenlabs', {
      'api-key': 'test-key',
      'webhook-secret': 'test-secret',
      'request-token': 'test-token',
    }),
    secret('openai', { 'api-key': 'test-key' }),
    // memorystore-*.yaml bring their own encryption key (a user-made Secret the gateways read).
    secret('callers-encryption', { key: Buffer.alloc(32, 7).toString('base64') }),
    secret('callers-rds', { url: 'postgres://callfleet:secret@db.example.com:5432/callers?sslmode=require' }),
  ] as unknown as KObject[];
}

/** A namespace with the examples' Secrets in it (the operator refuses a VoiceAgent whose Secret is missing). */
export async function createNamespace(cluster: Cluster, name: string): Promise<void> {
  await kubectlOk(cluster, ['create', 'namespace', name]);
  await applyObjects(cluster, name, exampleSecrets());
}
