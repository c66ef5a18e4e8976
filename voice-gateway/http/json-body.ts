// JSON request bodies, checked with a zod schema. The error names the field ("query: required"), or
// says the body is not JSON, so every JSON endpoint refuses bad input the same way.
import type { z } from 'zod';

export type BodyCheck<T> = { ok: true; value: T } | { ok: false; error: string };

/** The first issue of a failed parse as "<field path>: <message>" ("body" when it is the whole value). */
export function issueMessage(error: z.ZodError): string {
  const issue = error.issues[0];
  return `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`;
}

/** Parses `raw` as JSON and checks it with `schema`; `notJson` is the error when it is not JSON at all. */
export function parseJsonBody<S extends z.ZodType>(
  raw: Buffer | string,
  schema: S,
  notJson = 'body: expected JSON',
): BodyCheck<z.output<S>> {
  let value: unknown;
  try {
    value = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    return { ok: false, error: notJson };
  }
  const parsed = schema.safeParse(value);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, error: issueMessage(parsed.error) };
}
