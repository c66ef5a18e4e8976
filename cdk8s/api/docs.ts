// docs/api.md's field reference, generated from the same structural schema as the CRDs so the
// reference never drifts from what the API server enforces.
import { type JsonSchema, openApiSchema } from './crd.ts';
import { kinds } from './v1alpha1/index.ts';

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function typeOf(node: JsonSchema): string {
  if (node.type === 'array') return `[]${typeOf(node.items as JsonSchema)}`;
  if (node.type === 'object' && node.additionalProperties) return 'map';
  if (node.enum) return (node.enum as string[]).map((e) => `\`${e}\``).join(' \\| ');
  return String(node.type);
}

function constraints(node: JsonSchema): string {
  const out: string[] = [];
  if (node.minimum !== undefined) out.push(`≥ ${node.minimum}`);
  if (node.maximum !== undefined) out.push(`≤ ${node.maximum}`);
  if (node.minLength !== undefined && node.minLength !== 1) out.push(`minLength ${node.minLength}`);
  if (node.maxItems !== undefined) out.push(`≤ ${node.maxItems} items`);
  if (node.pattern !== undefined) out.push(`pattern \`${node.pattern}\``);
  if (node['x-kubernetes-preserve-unknown-fields']) out.push('passthrough');
  if (node['x-kubernetes-list-type'] === 'map') {
    out.push(`list-map keyed by ${(node['x-kubernetes-list-map-keys'] as string[]).join(', ')}`);
  }
  return out.join('; ');
}

interface Row {
  path: string;
  node: JsonSchema;
  required: boolean;
}

function rows(node: JsonSchema, path: string, out: Row[], rules: { path: string; rule: JsonSchema }[]): void {
  for (const r of (node['x-kubernetes-validations'] as JsonSchema[] | undefined) ?? [])
    rules.push({ path, rule: r });
  const props = (node.properties as Record<string, JsonSchema> | undefined) ?? {};
  const required = new Set((node.required as string[] | undefined) ?? []);
  for (const [k, child] of Object.entries(props)) {
    const p = path ? `${path}.${k}` : k;
    out.push({ path: p, node: child, required: required.has(k) });
    const inner = child.type === 'array' ? (child.items as JsonSchema) : child;
    rows(inner, child.type === 'array' ? `${p}[]` : p, out, rules);
  }
}

export function renderApiReference(): string {
  const parts: string[] = [];
  for (const def of kinds) {
    const schema = openApiSchema(def);
    for (const section of ['spec', 'status']) {
      const node = (schema.properties as Record<string, JsonSchema>)[section] as JsonSchema;
      const out: Row[] = [];
      const rules: { path: string; rule: JsonSchema }[] = [];
      rows(node, section, out, rules);
      parts.push(`### ${def.kind} \`${section}\`\n`);
      parts.push(`${String(node.description)}\n`);
      parts.push('| field | type | default | constraints | description |');
      parts.push('|---|---|---|---|---|');
      for (const r of out) {
        const def =
          r.node.default === undefined
            ? r.required
              ? '**required**'
              : ''
            : `\`${JSON.stringify(r.node.default)}\``;
        parts.push(
          `| \`${r.path}\` | ${typeOf(r.node)} | ${cell(def)} | ${cell(constraints(r.node))} | ${cell(String(r.node.description ?? ''))} |`,
        );
      }
      parts.push('');
      if (rules.length) {
        parts.push(`Cross-field rules (CEL \`x-kubernetes-validations\`, mirrored in the zod parse):\n`);
        parts.push('| on | field in the error | rule | message |');
        parts.push('|---|---|---|---|');
        for (const { path, rule } of rules) {
          const field = `${path}${String(rule.fieldPath ?? '')}`;
          parts.push(
            `| \`${path}\` | \`${field}\` | \`${cell(String(rule.rule))}\` | ${cell(String(rule.message))} |`,
          );
        }
        parts.push('');
      }
    }
    const root = (schema['x-kubernetes-validations'] as JsonSchema[] | undefined) ?? [];
    if (root.length) {
      parts.push(`Object-level rules on ${def.kind}:\n`);
      for (const r of root) parts.push(`- \`${String(r.rule)}\` — ${String(r.message)}`);
      parts.push('');
    }
  }
  return parts.join('\n');
}

export const REFERENCE_BEGIN = '<!-- BEGIN GENERATED REFERENCE (callfleet crds --docs docs/api.md) -->';
export const REFERENCE_END = '<!-- END GENERATED REFERENCE -->';

/** Replaces the generated block of an api.md text with the current reference. */
export function withReference(markdown: string): string {
  const start = markdown.indexOf(REFERENCE_BEGIN);
  const end = markdown.indexOf(REFERENCE_END);
  if (start < 0 || end < start) throw new Error('api.md lacks the generated-reference markers');
  return `${markdown.slice(0, start + REFERENCE_BEGIN.length)}\n\n${renderApiReference()}\n${markdown.slice(end)}`;
}
