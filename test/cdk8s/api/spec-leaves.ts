// Walks a zod 4 schema tree and lists every leaf field (objects, optionals, defaults, prefaults,
// arrays of objects are descended; strings, numbers, booleans, enums, records and arrays of those are
// leaves), and generates values for a leaf that its own schema accepts. Used by the API contract test,
// so a field added to the API tomorrow is covered without anyone listing it.
import { z } from 'zod';

type Def = {
  type: string;
  innerType?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  entries?: Record<string, string>;
  values?: unknown[];
  in?: z.ZodType;
};

export type Segment = string | number;

export interface Leaf {
  /** Path from the object root, e.g. ['spec', 'autoscaling', 'schedule', 0, 'name']. */
  path: Segment[];
  /** `spec.autoscaling.schedule[].name`: what tests and lists name the field by. */
  name: string;
  /** The leaf's own schema (wrappers included: it validates candidate values). */
  schema: z.ZodType;
  /** Schema of each object on the way, by path length (so a missing parent can be created). */
  parents: z.ZodType[];
  /**
   * The leaf is a key of a list-map (`x-kubernetes-list-map-keys`): the identity of its list entry,
   * which the API server keeps unique and server-side apply merges by.
   */
  listMapKey?: boolean;
}

export function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** optional / default / prefault / nullable / readonly / pipe → the schema they wrap. */
export function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (;;) {
    const d = defOf(s);
    if (d.innerType && ['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch'].includes(d.type))
      s = d.innerType;
    else if (d.type === 'pipe' && d.in) s = d.in;
    else return s;
  }
}

/** True when the field may be left out (optional, or filled by a default). */
export function omittable(schema: z.ZodType): boolean {
  let s = schema;
  for (;;) {
    const d = defOf(s);
    if (['optional', 'default', 'prefault'].includes(d.type)) return true;
    if (d.innerType && ['nullable', 'readonly', 'catch'].includes(d.type)) s = d.innerType;
    else if (d.type === 'pipe' && d.in) s = d.in;
    else return false;
  }
}

export function leafName(path: Segment[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? '[]' : out ? `.${seg}` : seg;
  return out;
}

/** The list-map keys declared on an array schema (on any of its wrappers). */
function listMapKeys(schema: z.ZodType): string[] {
  let s: z.ZodType | undefined = schema;
  while (s) {
    const keys = (z.globalRegistry.get(s) as Record<string, unknown> | undefined)?.[
      'x-kubernetes-list-map-keys'
    ];
    if (Array.isArray(keys)) return keys as string[];
    s = defOf(s).innerType;
  }
  return [];
}

export function specLeaves(schema: z.ZodType, prefix: Segment[] = ['spec']): Leaf[] {
  const leaves: Leaf[] = [];
  const walk = (s: z.ZodType, path: Segment[], parents: z.ZodType[], keys: string[] = []) => {
    const inner = unwrap(s);
    const d = defOf(inner);
    if (d.type === 'object' && d.shape) {
      for (const [key, child] of Object.entries(d.shape))
        walk(child, [...path, key], [...parents, inner], keys.includes(key) ? ['*'] : []);
      return;
    }
    if (d.type === 'array' && d.element && defOf(unwrap(d.element)).type === 'object') {
      walk(d.element, [...path, 0], [...parents, inner], listMapKeys(s));
      return;
    }
    const leaf: Leaf = { path, name: leafName(path), schema: s, parents };
    if (keys.includes('*')) leaf.listMapKey = true;
    leaves.push(leaf);
  };
  const inner = unwrap(schema);
  const d = defOf(inner);
  for (const [key, child] of Object.entries(d.shape ?? {})) walk(child, [...prefix, key], [inner]);
  return leaves;
}

const STRING_SAMPLES = [
  'contract-x',
  'x',
  'https://contract.example.org',
  'wss://contract.example.org/x',
  '+15550109999',
  '07:30',
  '23:15',
  '5Gi',
  'America/Chicago',
  '0 4 * * *',
  'registry.example.org/callfleet:contract',
  'contract.example.org',
  '14d',
  's3://contract-bucket/x',
  '2026-01-02T03:04:05Z',
];
const NUMBER_SAMPLES = [1, 0, 2, 3, 5, 10, 30, 60, 100, 1000, 0.5, 0.01];

const accepts = (schema: z.ZodType, value: unknown) => schema.safeParse(value).success;

/** Values the leaf's schema accepts, different from `current`, most natural first. */
export function candidates(leaf: z.ZodType, current: unknown): unknown[] {
  const s = unwrap(leaf);
  const d = defOf(s);
  const out: unknown[] = [];
  const push = (v: unknown) => {
    if (JSON.stringify(v) === JSON.stringify(current)) return;
    if (out.some((o) => JSON.stringify(o) === JSON.stringify(v))) return;
    if (accepts(s, v)) out.push(v);
  };
  switch (d.type) {
    case 'boolean':
      push(current !== true);
      push(true);
      push(false);
      break;
    case 'enum':
      for (const v of Object.values(d.entries ?? {})) push(v);
      break;
    case 'literal':
      // A choice of literals (z.literal([20, 40])): each other choice.
      for (const v of (d as { values?: unknown[] }).values ?? []) push(v);
      break;
    case 'number': {
      const c = typeof current === 'number' ? current : undefined;
      if (c !== undefined) for (const v of [c + 1, c - 1, c * 2, Math.floor(c / 2), c / 2]) push(v);
      for (const v of NUMBER_SAMPLES) push(v);
      break;
    }
    case 'string': {
      if (typeof current === 'string' && current) {
        push(`${current}x`);
        push(`x${current}`);
        push(`${current.slice(0, -1)}${current.endsWith('x') ? 'y' : 'x'}`);
        // The same character class in the last place, for patterns such as a region (eu-west-1 → eu-west-2).
        const last = current.slice(-1);
        if (/\d/.test(last)) push(`${current.slice(0, -1)}${(Number(last) + 1) % 10}`);
      }
      for (const v of STRING_SAMPLES) push(v);
      break;
    }
    case 'record':
      push({ 'contract-test': 'x' });
      break;
    case 'array': {
      const el = d.element as z.ZodType;
      const options = candidates(el, undefined);
      if (options.length) {
        push([options[0]]);
        push([options[options.length - 1]]);
        push(options.slice(0, 2));
      }
      break;
    }
    default:
      throw new Error(`no value generator for zod type ${d.type}`);
  }
  return out;
}

/** The smallest value the schema accepts (only required fields filled), e.g. to create a missing parent. */
export function minimalValue(schema: z.ZodType): unknown {
  const s = unwrap(schema);
  const d = defOf(s);
  if (d.type === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(d.shape ?? {})) {
      if (!omittable(child)) out[key] = minimalValue(child);
    }
    if (accepts(s, out)) return out;
    // A refinement such as "namespace or podLabels is required": the first optional field that satisfies it.
    for (const [key, child] of Object.entries(d.shape ?? {})) {
      const withKey = { ...out, [key]: minimalValue(child) };
      if (!(key in out) && accepts(s, withKey)) return withKey;
    }
    return out;
  }
  if (d.type === 'array') {
    const one = [minimalValue(d.element as z.ZodType)];
    return accepts(s, []) ? [] : one;
  }
  if (d.type === 'literal') return d.values?.[0];
  const first = candidates(s, Symbol('none'))[0];
  if (first === undefined) throw new Error(`no minimal value for zod type ${d.type}`);
  return first;
}

export function getIn(obj: unknown, path: Segment[]): unknown {
  let cur = obj;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

/** Ensures every parent of the leaf exists (a missing one is created with its minimal value). */
export function ensureParents(obj: Record<string, unknown>, leaf: Leaf): void {
  let cur: Record<string | number, unknown> = obj;
  for (let i = 0; i < leaf.path.length - 1; i++) {
    const seg = leaf.path[i] as Segment;
    const next = leaf.path[i + 1] as Segment;
    if (cur[seg] === undefined || cur[seg] === null) {
      // The schema of the value at path[0..i] is parents[i] (parents[0] is the root `spec`).
      const schema = leaf.parents[i];
      cur[seg] = typeof next === 'number' ? [] : schema ? minimalValue(schema) : {};
      if (typeof next === 'number' && schema) {
        const el = defOf(unwrap(schema)).element as z.ZodType;
        (cur[seg] as unknown[]).push(minimalValue(el));
      }
    }
    if (typeof next === 'number' && Array.isArray(cur[seg]) && (cur[seg] as unknown[]).length === 0) {
      const el = defOf(unwrap(leaf.parents[i] as z.ZodType)).element as z.ZodType;
      (cur[seg] as unknown[]).push(minimalValue(el));
    }
    cur = cur[seg] as Record<string | number, unknown>;
  }
}

export function setIn(obj: Record<string, unknown>, path: Segment[], value: unknown): void {
  let cur: Record<string | number, unknown> = obj;
  for (const seg of path.slice(0, -1)) {
    if (cur[seg] === undefined) {
      if (value === undefined) return;
      cur[seg] = {};
    }
    cur = cur[seg] as Record<string | number, unknown>;
  }
  const last = path[path.length - 1] as Segment;
  if (value === undefined) delete cur[last];
  else cur[last] = value;
}
