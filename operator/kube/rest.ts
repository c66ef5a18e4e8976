// A thin REST client over the API server: the one place every read, write and watch goes through,
// so API writes are counted by verb and errors carry the status code and the server's message.
import { Agent, request } from 'node:https';
import { createInterface } from 'node:readline';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { fromKubeConfig, type KubeAccess } from './access.ts';
import { objectPath } from './resources.ts';

export class KubeError extends Error {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

export type WriteVerb = 'apply' | 'patch' | 'create' | 'update' | 'delete';

/**
 * The resource an API path names, with its subresource: `/api/v1/namespaces/a/pods/p` → `pods`,
 * `/apis/apps/v1/namespaces/a/deployments/d/scale` → `deployments/scale`, a collection → its resource.
 */
export function resourceOf(path: string): string {
  const parts = path.split('?')[0]?.split('/').filter(Boolean) ?? [];
  // After /api/v1 or /apis/<group>/<version>; then `namespaces/<ns>/` when namespaced.
  let rest = parts.slice(parts[0] === 'api' ? 2 : 3);
  if (rest[0] === 'namespaces' && rest.length > 2) rest = rest.slice(2);
  const [resource = 'unknown', , subresource] = rest;
  return subresource ? `${resource}/${subresource}` : resource;
}

export interface RestOptions {
  /** Called for every write the operator makes (for the API-write metric), with its resource (`resourceOf`). */
  onWrite?: (verb: WriteVerb, resource: string) => void;
  /** Per-request timeout (watches excepted). */
  timeoutMs?: number;
}

interface Call {
  method: string;
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

export class KubeRest {
  readonly #access: KubeAccess;
  readonly #agent: Agent;
  // Watches hold their connection for minutes: on the bounded agent, enough of them (one per kind and
  // watched namespace) would take every socket and leave every other request queued forever.
  readonly #watchAgent: Agent;
  readonly #options: RestOptions;

  /** `kc`: a client-node KubeConfig (tests, the admin commands) or a KubeAccess (./access.ts). */
  constructor(kc: KubeConfig | KubeAccess, options: RestOptions = {}, maxSockets = 32) {
    this.#access = 'server' in kc && 'authorize' in kc ? kc : fromKubeConfig(kc);
    this.#agent = new Agent({ keepAlive: true, maxSockets, ...this.#access.tls });
    this.#watchAgent = new Agent({ keepAlive: false, ...this.#access.tls });
    this.#options = options;
  }

  /**
   * The same client (credentials, write counting) on connections of its own: writes that must not wait
   * for a free socket behind a burst of others (the pod marks behind a wave of reconciles).
   */
  withOwnConnections(maxSockets: number): KubeRest {
    return new KubeRest(this.#access, this.#options, maxSockets);
  }

  /** The current context's namespace, when the kubeconfig names one. */
  get namespace(): string | undefined {
    return this.#access.namespace;
  }

  async get<T = KubernetesObject>(path: string, query?: Call['query']): Promise<T> {
    return (await this.#call({ method: 'GET', path, query })) as T;
  }

  /** Returns null when the object does not exist. */
  async getOrNull<T = KubernetesObject>(path: string): Promise<T | null> {
    return nullIfNotFound(this.get<T>(path));
  }

  /** Server-side apply with a field manager, forcing conflicts (we own what we render). */
  async apply<T extends KubernetesObject>(object: T, fieldManager: string, subresource = ''): Promise<T> {
    const path = objectPath(object) + (subresource ? `/${subresource}` : '');
    this.#options.onWrite?.('apply', resourceOf(path));
    return (await this.#call({
      method: 'PATCH',
      path,
      query: { fieldManager, force: true },
      body: object,
      contentType: 'application/apply-patch+yaml',
    })) as T;
  }

  async mergePatch<T = KubernetesObject>(path: string, patch: unknown, fieldManager?: string): Promise<T> {
    return this.#patch<T>(path, patch, 'application/merge-patch+json', fieldManager);
  }

  async jsonPatch<T = KubernetesObject>(
    path: string,
    operations: unknown[],
    fieldManager?: string,
  ): Promise<T> {
    return this.#patch<T>(path, operations, 'application/json-patch+json', fieldManager);
  }

  async #patch<T>(path: string, body: unknown, contentType: string, fieldManager?: string): Promise<T> {
    this.#options.onWrite?.('patch', resourceOf(path));
    return (await this.#call({ method: 'PATCH', path, query: { fieldManager }, body, contentType })) as T;
  }

  async create<T = KubernetesObject>(collection: string, body: unknown, fieldManager?: string): Promise<T> {
    this.#options.onWrite?.('create', resourceOf(collection));
    return (await this.#call({ method: 'POST', path: collection, query: { fieldManager }, body })) as T;
  }

  async update<T = KubernetesObject>(path: string, body: unknown, fieldManager?: string): Promise<T> {
    this.#options.onWrite?.('update', resourceOf(path));
    return (await this.#call({ method: 'PUT', path, query: { fieldManager }, body })) as T;
  }

  /** Deletes; a missing object is not an error. */
  async delete(path: string, propagationPolicy = 'Background'): Promise<void> {
    this.#options.onWrite?.('delete', resourceOf(path));
    try {
      await this.#call({ method: 'DELETE', path, body: { propagationPolicy } });
    } catch (error) {
      if (!(error instanceof KubeError && error.status === 404)) throw error;
    }
  }

  /**
   * Streams a watch: calls onEvent per line until the server closes, the signal aborts, or an error.
   * Resolves when the stream ends (the caller decides whether to re-watch or relist).
   */
  async watch(
    path: string,
    query: Call['query'],
    onEvent: (event: WatchEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const res = await this.#open({ method: 'GET', path, query: { ...query, watch: true }, signal }, false);
    if ((res.statusCode ?? 500) >= 300) {
      const text = await readAll(res);
      throw toKubeError(res.statusCode ?? 500, text);
    }
    const lines = createInterface({ input: res, crlfDelay: Number.POSITIVE_INFINITY });
    try {
      for await (const line of lines) {
        if (line) onEvent(JSON.parse(line) as WatchEvent);
      }
    } catch (error) {
      if (!signal.aborted) throw error;
    }
  }

  async #call(call: Call): Promise<unknown> {
    const res = await this.#open(call, true);
    const text = await readAll(res);
    const status = res.statusCode ?? 500;
    if (status >= 300) {
      const error = toKubeError(status, text);
      error.message = `${call.method} ${call.path}: ${error.message}`;
      throw error;
    }
    return text ? JSON.parse(text) : {};
  }

  async #open(call: Call, isRequest: boolean): Promise<import('node:http').IncomingMessage> {
    const url = new URL(this.#access.server + call.path);
    for (const [k, v] of Object.entries(call.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const agent = isRequest ? this.#agent : this.#watchAgent;
    const options: import('node:https').RequestOptions = {
      method: call.method,
      agent,
      headers: { Accept: 'application/json' },
      signal: call.signal,
      timeout: isRequest ? (this.#options.timeoutMs ?? 30_000) : undefined,
    };
    await this.#access.authorize(options);
    options.agent = agent;
    const payload = call.body === undefined ? undefined : JSON.stringify(call.body);
    if (payload !== undefined) {
      // Explicit length: without it Node may send a DELETE body unframed, and the API server then reads
      // those bytes as the start of the next request on the same keep-alive socket (400 Bad Request).
      options.headers = {
        ...options.headers,
        'Content-Type': call.contentType ?? 'application/json',
        'Content-Length': Buffer.byteLength(payload),
      };
    }
    return new Promise((resolve, reject) => {
      const req = request(url, options, resolve);
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error(`${call.method} ${call.path}: timed out`)));
      req.end(payload);
    });
  }
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: KubernetesObject & { code?: number; message?: string; reason?: string };
}

function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', reject);
  });
}

function toKubeError(status: number, text: string): KubeError {
  try {
    const body = JSON.parse(text) as { reason?: string; message?: string };
    return new KubeError(status, body.reason ?? '', body.message ?? text);
  } catch {
    return new KubeError(status, '', text.slice(0, 500) || `HTTP ${status}`);
  }
}

/** A read whose 404 means "absent": null instead of the error (KubeRest.getOrNull and its test double). */
export async function nullIfNotFound<T>(read: Promise<T>): Promise<T | null> {
  try {
    return await read;
  } catch (error) {
    if (error instanceof KubeError && error.status === 404) return null;
    throw error;
  }
}
