// One place for every cross-field rule: `celRefine` registers the same rule twice, as a zod
// refinement (what the operator's parse enforces) and as CEL `x-kubernetes-validations` metadata
// (what the CRD generator writes, so the API server enforces it). Same message, same field path.
import { z } from 'zod';

export interface CelRule {
  /** CEL expression evaluated by the API server with `self` bound to the object the rule sits on. */
  rule: string;
  /** Shown to the user by both the API server and the zod parse. */
  message: string;
  /** Dotted path relative to the object, e.g. `.minReplicas`; names the field in the error. */
  fieldPath?: string;
}

export const CEL_KEY = 'x-kubernetes-validations';

/** The CEL rules attached to a schema (inherited through zod's clone chain). */
export function celRulesOf(schema: z.ZodType): CelRule[] {
  const meta = z.globalRegistry.get(schema) as Record<string, unknown> | undefined;
  const rules = meta?.[CEL_KEY];
  return Array.isArray(rules) ? (rules as CelRule[]) : [];
}

export function fieldPathSegments(fieldPath: string | undefined): string[] {
  if (!fieldPath) return [];
  return fieldPath.split('.').filter((s) => s.length > 0);
}

/**
 * Adds a cross-field rule: `predicate` must return true for valid values (it sees the parsed,
 * defaulted value, exactly as CEL sees the object after API-server defaulting).
 */
export function celRefine<T extends z.ZodType>(
  schema: T,
  rule: CelRule,
  predicate: (value: z.output<T>) => boolean,
): T {
  const path = fieldPathSegments(rule.fieldPath);
  const refined = schema.superRefine((value, ctx) => {
    if (!predicate(value as z.output<T>)) ctx.addIssue({ code: 'custom', message: rule.message, path });
  }) as T;
  const entry: CelRule = rule.fieldPath
    ? { rule: rule.rule, message: rule.message, fieldPath: rule.fieldPath }
    : { rule: rule.rule, message: rule.message };
  return refined.meta({ [CEL_KEY]: [...celRulesOf(schema), entry] }) as T;
}

/** A cross-field rule and its check: `holds` returns true for valid values. */
export interface CelCheck<T> extends CelRule {
  holds: (value: T) => boolean;
}

/** Several rules on one schema, in order (the same as chaining celRefine). */
export function celChecks<T extends z.ZodType>(schema: T, ...checks: CelCheck<z.output<T>>[]): T {
  return checks.reduce((refined, { holds, ...rule }) => celRefine(refined, rule, holds), schema);
}

/** `field` must be set while `key` is `value` (a discriminator and its block), e.g. provider elevenlabs. */
export function requiredWhen<T extends object>(
  key: keyof T & string,
  value: string,
  field: keyof T & string,
  message = `${field} is required when ${key} is ${value}`,
): CelCheck<T> {
  return {
    rule: `self.${key} != '${value}' || has(self.${field})`,
    message,
    fieldPath: `.${field}`,
    holds: (v) => v[key] !== value || v[field] !== undefined,
  };
}
