// Guards for JSON that arrives on a hot path, where a zod parse per frame would cost too much.
// Bodies that arrive once per request are parsed with zod schemas instead.

/** `v` is a plain JSON object (not null, not an array). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `v` if it is a plain JSON object, else undefined. */
export function asRecord(v: unknown): Record<string, unknown> | undefined {
  return isRecord(v) ? v : undefined;
}

/** `v` if it is a string (as it is, untrimmed), else undefined. */
export function asString(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
