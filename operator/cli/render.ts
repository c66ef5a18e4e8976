// `callfleet render -f FILE [-o yaml|json]`: print the objects the operator would create for the
// VoiceAgents and MemoryStores in FILE (several YAML documents allowed), with no cluster. MemoryStores
// in the same file give the VoiceAgents that reference them their connection details.
// Exit 0 on success, 1 when a document is invalid or cannot be rendered (with the field path), 2 on usage.
import { readFileSync } from 'node:fs';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import {
  type MemoryStore,
  parseCallCampaign,
  parseMemoryStore,
  parseVoiceAgent,
  type VoiceAgent,
} from '../../cdk8s/api/v1alpha1/index.ts';
import {
  type MemoryStoreRenderContext,
  memoryStoreConnection,
  renderMemoryStore,
  renderVoiceAgent,
} from '../../cdk8s/charts/index.ts';
import { parseCommandLine } from './args.ts';

export interface RenderFailure {
  document: number;
  kind: string;
  name: string;
  path: string;
  message: string;
}

export type RenderDocumentsResult =
  | { ok: true; objects: KubernetesObject[] }
  | { ok: false; failures: RenderFailure[] };

/** Parse and render a list of CR documents: MemoryStores first, then VoiceAgents with their store. */
export function renderDocuments(
  docs: unknown[],
  msCtx: MemoryStoreRenderContext = {},
): RenderDocumentsResult {
  const failures: RenderFailure[] = [];
  const stores: { index: number; ms: MemoryStore }[] = [];
  const agents: { index: number; va: VoiceAgent }[] = [];
  docs.forEach((doc, index) => {
    if (doc === null || doc === undefined) return;
    const raw = doc as { kind?: unknown; metadata?: { name?: unknown } };
    const kind = typeof raw.kind === 'string' ? raw.kind : '';
    const name = typeof raw.metadata?.name === 'string' ? raw.metadata.name : '';
    const fail = (path: string, message: string) =>
      failures.push({ document: index + 1, kind, name, path, message });
    if (kind === 'MemoryStore') {
      const parsed = parseMemoryStore(doc);
      if (parsed.ok) stores.push({ index, ms: parsed.value });
      else for (const i of parsed.issues) fail(i.path, i.message);
    } else if (kind === 'VoiceAgent') {
      const parsed = parseVoiceAgent(doc);
      if (parsed.ok) agents.push({ index, va: parsed.value });
      else for (const i of parsed.issues) fail(i.path, i.message);
    } else if (kind === 'CallCampaign') {
      // Validated only: a campaign renders no object (the operator's dialer acts on it).
      const parsed = parseCallCampaign(doc);
      if (!parsed.ok) for (const i of parsed.issues) fail(i.path, i.message);
    } else {
      fail('kind', `expected VoiceAgent, MemoryStore or CallCampaign, got ${JSON.stringify(raw.kind)}`);
    }
  });
  const objects: KubernetesObject[] = [];
  const connections = new Map<string, ReturnType<typeof memoryStoreConnection>>();
  for (const { index, ms } of stores) {
    const namespace = ms.metadata.namespace ?? 'default';
    // The connection budget counts the VoiceAgents in the same documents that use the store.
    const fleet = agents
      .filter(
        ({ va }) =>
          (va.metadata.namespace ?? 'default') === namespace &&
          va.spec.memory?.storeRef.name === ms.metadata.name,
      )
      .map(({ va }) => ({ name: va.metadata.name ?? '', maxReplicas: va.spec.autoscaling.maxReplicas }))
      .sort((a, b) => a.name.localeCompare(b.name));
    connections.set(`${namespace}/${ms.metadata.name}`, memoryStoreConnection(ms, fleet));
    const r = renderMemoryStore(ms, { ...msCtx, fleet });
    if (r.ok) objects.push(...r.objects);
    else
      failures.push({ document: index + 1, kind: 'MemoryStore', name: ms.metadata.name ?? '', ...r.error });
  }
  for (const { index, va } of agents) {
    const store = va.spec.memory?.storeRef.name;
    const conn = store ? connections.get(`${va.metadata.namespace ?? 'default'}/${store}`) : undefined;
    const r = renderVoiceAgent(va, {
      memoryStore: conn ? { ...conn, ready: false } : undefined,
      randomBytes: msCtx.randomBytes,
    });
    if (r.ok) objects.push(...r.objects);
    else failures.push({ document: index + 1, kind: 'VoiceAgent', name: va.metadata.name ?? '', ...r.error });
  }
  return failures.length ? { ok: false, failures } : { ok: true, objects };
}

export function toYaml(objects: KubernetesObject[]): string {
  return objects.map((o) => stringify(o, { lineWidth: 0, version: '1.1' })).join('---\n');
}

export function toJson(objects: KubernetesObject[]): string {
  return `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2)}\n`;
}

const USAGE = 'usage: callfleet render -f FILE [-o yaml|json]\n';

export async function run(args: string[]): Promise<number> {
  const line = parseCommandLine(
    args,
    {
      options: {
        file: { type: 'string', short: 'f' },
        output: { type: 'string', short: 'o', default: 'yaml' },
        help: { type: 'boolean', short: 'h' },
      },
    },
    { usage: USAGE, prefix: 'callfleet render: ' },
  );
  if (typeof line === 'number') return line;
  const { values } = line;
  if (!values.file || (values.output !== 'yaml' && values.output !== 'json')) {
    process.stderr.write(USAGE);
    return 2;
  }
  let text: string;
  try {
    text = values.file === '-' ? readFileSync(0, 'utf8') : readFileSync(values.file, 'utf8');
  } catch (err) {
    process.stderr.write(`callfleet render: ${(err as Error).message}\n`);
    return 1;
  }
  const parsed = parseAllDocuments(text);
  const docs: unknown[] = [];
  for (const [i, doc] of (Array.isArray(parsed) ? parsed : [parsed]).entries()) {
    if (doc.errors.length) {
      process.stderr.write(`${values.file}: document ${i + 1}: invalid YAML: ${doc.errors[0]?.message}\n`);
      return 1;
    }
    docs.push(doc.toJS());
  }
  const result = renderDocuments(docs);
  if (!result.ok) {
    for (const f of result.failures) {
      const what = f.kind ? `${f.kind}${f.name ? ` ${f.name}` : ''}` : 'object';
      process.stderr.write(`${values.file}: document ${f.document} (${what}): ${f.path}: ${f.message}\n`);
    }
    return 1;
  }
  process.stdout.write(values.output === 'json' ? toJson(result.objects) : toYaml(result.objects));
  return 0;
}
