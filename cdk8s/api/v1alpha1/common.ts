// Building blocks shared by VoiceAgent and MemoryStore. Every field carries a description
// (it becomes `kubectl explain` text) and strings carry a maxLength (CEL cost estimation).
import { z } from 'zod';

export const GROUP = 'callfleet.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** Kubernetes object names that are also DNS-1123 subdomains (Secrets, MemoryStores, ...). */
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Lower-case DNS label (namespaces, Gateway section names). */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const HTTP_URL = /^https?:\/\/[^\s/?#]+[^\s]*$/;
export const WS_URL = /^wss?:\/\/[^\s/?#]+[^\s]*$/;
/** A Kubernetes quantity such as `10Gi` or `500M`. */
export const QUANTITY = /^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;

export const objectName = (description: string) =>
  z.string().min(1).max(253).regex(DNS_SUBDOMAIN).describe(description);

/** An optional namespace name (a DNS label). */
export const namespaceName = (description: string) =>
  z.string().min(1).max(63).regex(DNS_LABEL).optional().describe(description);

export const SecretKeySelectorSchema = z
  .strictObject({
    name: objectName('Name of the Secret in the same namespace.'),
    key: z
      .string()
      .min(1)
      .max(253)
      .regex(/^[-._a-zA-Z0-9]+$/)
      .describe('Key inside the Secret whose value is used.'),
  })
  .describe('Reference to one key of a Secret in the same namespace (secretKeyRef shape).');
export type SecretKeySelector = z.output<typeof SecretKeySelectorSchema>;

export const secretRef = (description: string) => SecretKeySelectorSchema.describe(description);

/** A free-form object passed through to Kubernetes unchanged (resources, affinity, ...). */
export const passthrough = (description: string) =>
  z.record(z.string(), z.unknown()).meta({ description, 'x-kubernetes-preserve-unknown-fields': true });

export const stringMap = (description: string) =>
  z.record(z.string().max(317), z.string().max(4096)).describe(description);

export const ConditionSchema = z
  .strictObject({
    type: z.string().min(1).max(316).describe('Type of the condition, e.g. Ready, Progressing, Degraded.'),
    status: z.enum(['True', 'False', 'Unknown']).describe('Status of the condition: True, False or Unknown.'),
    observedGeneration: z
      .int()
      .min(0)
      .optional()
      .describe('The .metadata.generation the condition was set for.'),
    lastTransitionTime: z.iso
      .datetime({ offset: true })
      .describe('Last time the condition changed status (RFC 3339).'),
    reason: z
      .string()
      .min(1)
      .max(1024)
      .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
      .describe('Machine-readable CamelCase reason for the last transition.'),
    message: z.string().max(32768).describe('Human-readable details about the last transition.'),
  })
  .describe('A metav1.Condition.');
export type Condition = z.output<typeof ConditionSchema>;

export const conditionsList = (description: string) =>
  z
    .array(ConditionSchema)
    .max(16)
    .meta({ description, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] });

/** The parts of ObjectMeta the operator reads; everything else passes through. */
export const ObjectMetaSchema = z
  .looseObject({
    name: z.string().max(253).optional().describe('Name of the object.'),
    namespace: z.string().max(63).optional().describe('Namespace of the object.'),
    generation: z.int().optional().describe('Sequence number of the desired state.'),
  })
  .describe('Standard object metadata.');

/** The top level of a callfleet kind: apiVersion, kind, metadata, spec and an optional status. */
export function resourceSchema<K extends string, Spec extends z.ZodType, Status extends z.ZodType>(
  kind: K,
  spec: Spec,
  status: Status,
  description: string,
) {
  return z
    .looseObject({
      apiVersion: z.literal(API_VERSION).describe(API_VERSION),
      kind: z.literal(kind).describe(kind),
      metadata: ObjectMetaSchema,
      spec,
      status: status.optional(),
    })
    .describe(description);
}

export type ParseIssue = { path: string; message: string };
export type ParseResult<T> = { ok: true; value: T } | { ok: false; issues: ParseIssue[] };

/** `['spec', 'schedule', 0, 'name']` → `spec.schedule[0].name` (the API server's spelling). */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

function patternSource(pattern: unknown): string {
  if (pattern instanceof RegExp) return pattern.source;
  return String(pattern).replace(/^\/(.*)\/[a-z]*$/s, '$1');
}

// Messages worded like the API server's, so users read the same text from `kubectl apply`
// and from the operator's status conditions.
function kubernetesMessage(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type':
      return iss.input === undefined ? 'Required value' : undefined;
    case 'invalid_value': {
      const values = iss.values.map((v) => JSON.stringify(v)).join(', ');
      return `Unsupported value: ${JSON.stringify(iss.input)}: supported values: ${values}`;
    }
    case 'invalid_format':
      return iss.format === 'regex' && 'pattern' in iss
        ? `should match '${patternSource(iss.pattern)}'`
        : undefined;
    case 'too_big':
      return iss.origin === 'number' || iss.origin === 'int'
        ? `should be less than or equal to ${String(iss.maximum)}`
        : undefined;
    case 'too_small':
      return iss.origin === 'number' || iss.origin === 'int'
        ? `should be greater than or equal to ${String(iss.minimum)}`
        : undefined;
    default:
      return undefined;
  }
}

export function parseWith<T>(schema: z.ZodType<T>, obj: unknown): ParseResult<T> {
  const result = schema.safeParse(obj, { error: kubernetesMessage });
  if (result.success) return { ok: true, value: result.data };
  const issues: ParseIssue[] = [];
  for (const i of result.error.issues) {
    if (i.code === 'unrecognized_keys') {
      for (const key of i.keys) {
        const path = formatPath([...i.path, key]);
        issues.push({ path, message: `unknown field "${path}"` });
      }
    } else {
      issues.push({ path: formatPath(i.path), message: i.message });
    }
  }
  return { ok: false, issues };
}
