// zod schema → CustomResourceDefinition. The zod schemas in ./v1alpha1 are the single source of
// truth; this file only translates JSON Schema (openapi-3.0 flavour) into a structural schema the
// API server accepts, and adds the CRD facts (names, subresources, printer columns). Deterministic.
import { stringify } from 'yaml';
import { z } from 'zod';
import { type KindDefinition, kinds } from './v1alpha1/index.ts';

export type JsonSchema = { [key: string]: unknown };

const FORBIDDEN = ['$ref', '$defs', 'definitions', 'anyOf', 'oneOf', 'allOf', 'not', 'nullable', 'const'];

// Keys in the order they are written, so the YAML reads top-down like `kubectl explain`: what the node
// is, its bounds, the Kubernetes list and field markers, its children, then its CEL rules.
const KEY_ORDER = [
  ...['description', 'type', 'format', 'enum', 'default'],
  ...['pattern', 'minLength', 'maxLength', 'minimum', 'maximum', 'minItems', 'maxItems'],
  ...['x-kubernetes-preserve-unknown-fields', 'x-kubernetes-list-type', 'x-kubernetes-list-map-keys'],
  ...['required', 'items', 'additionalProperties', 'properties'],
  'x-kubernetes-validations',
];

function orderKeys(node: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const k of KEY_ORDER) if (k in node) out[k] = node[k];
  for (const k of Object.keys(node).sort()) if (!(k in out)) out[k] = node[k];
  return out;
}

/**
 * The API server validates a `default` as written (its own nested defaults are not applied first),
 * so an object default such as zod's `.prefault({})` is expanded with the defaults of its fields.
 */
export function expandDefault(node: JsonSchema, value: unknown): unknown {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return value;
  const props = node.properties as Record<string, JsonSchema> | undefined;
  if (!props) return value;
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const [k, child] of Object.entries(props)) {
    const v = k in out ? out[k] : child.default;
    if (v !== undefined) out[k] = expandDefault(child, v);
  }
  return out;
}

/** Rewrites one zod JSON Schema node (recursively) into structural-schema form; throws on what k8s rejects. */
export function toStructural(node: JsonSchema, path = ''): JsonSchema {
  const n: JsonSchema = { ...node };
  delete n.$schema;
  delete n.propertyNames;
  for (const key of FORBIDDEN) {
    if (key in n) throw new Error(`${path || '<root>'}: "${key}" is not allowed in a structural schema`);
  }
  if (typeof n.type !== 'string') throw new Error(`${path || '<root>'}: every node needs a type`);
  if (n.type === 'integer') {
    if (n.minimum === -Number.MAX_SAFE_INTEGER) delete n.minimum;
    if (n.maximum === Number.MAX_SAFE_INTEGER) delete n.maximum;
  }
  if (n.format === 'date-time') delete n.pattern;
  if (n['x-kubernetes-preserve-unknown-fields'] === true || n.additionalProperties === false) {
    delete n.additionalProperties;
  }
  if (n.properties && typeof n.properties === 'object') {
    const props: JsonSchema = {};
    for (const [k, v] of Object.entries(n.properties as Record<string, JsonSchema>)) {
      props[k] = toStructural(v, `${path}.${k}`);
    }
    n.properties = props;
    if ('additionalProperties' in n) throw new Error(`${path}: properties and additionalProperties together`);
  }
  if (n.additionalProperties && typeof n.additionalProperties === 'object') {
    n.additionalProperties = toStructural(n.additionalProperties as JsonSchema, `${path}.*`);
  }
  if (n.items && typeof n.items === 'object') n.items = toStructural(n.items as JsonSchema, `${path}[*]`);
  if (n.default !== undefined) n.default = expandDefault(n, n.default);
  return orderKeys(n);
}

/** The openAPIV3Schema of a kind: the zod schema plus the fixed apiVersion/kind/metadata header. */
export function openApiSchema(def: KindDefinition): JsonSchema {
  const json = z.toJSONSchema(def.schema, { target: 'openapi-3.0', io: 'input' }) as JsonSchema;
  const props = { ...(json.properties as Record<string, JsonSchema>) };
  props.apiVersion = {
    type: 'string',
    description:
      'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values.',
  };
  props.kind = {
    type: 'string',
    description:
      'Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. In CamelCase.',
  };
  // The API server allows restricting only metadata.name/generateName here; `name` is listed so
  // root CEL rules may point their fieldPath at it.
  props.metadata = { type: 'object', properties: { name: { type: 'string' } } };
  const required = ((json.required as string[] | undefined) ?? []).filter((k) => k === 'spec');
  const root: JsonSchema = {
    description: json.description,
    type: 'object',
    properties: {
      apiVersion: props.apiVersion,
      kind: props.kind,
      metadata: props.metadata,
      spec: props.spec,
      status: props.status,
    },
  };
  if (required.length) root.required = required;
  if (json['x-kubernetes-validations']) root['x-kubernetes-validations'] = json['x-kubernetes-validations'];
  return toStructural(root);
}

export function crdFor(def: KindDefinition): JsonSchema {
  const subresources: JsonSchema = { status: {} };
  if (def.scale) subresources.scale = { ...def.scale };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${def.plural}.${def.group}`,
      labels: { 'app.kubernetes.io/part-of': 'callfleet' },
    },
    spec: {
      group: def.group,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        categories: def.categories,
      },
      scope: 'Namespaced',
      versions: [
        {
          name: def.version,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: openApiSchema(def) },
          subresources,
          additionalPrinterColumns: def.printerColumns.map((c) => ({ ...c })),
        },
      ],
    },
  };
}

export function crdFileName(def: KindDefinition): string {
  return `${def.group}_${def.plural}.yaml`;
}

const HEADER =
  '# Generated by `callfleet crds` from cdk8s/api/v1alpha1 (zod). Do not edit; run `make manifests`.\n';

/** Every CRD file: name → YAML text. */
export function renderCrds(): Map<string, string> {
  const files = new Map<string, string>();
  for (const def of kinds) {
    files.set(
      crdFileName(def),
      HEADER + stringify(crdFor(def), { lineWidth: 0, aliasDuplicateObjects: false }),
    );
  }
  return files;
}
