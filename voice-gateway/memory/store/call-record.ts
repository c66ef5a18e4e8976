// The shape a call record must have before it is queued for writing (types.ts CallRecord). A record
// that fails here can never be written, so it is dropped (and counted) instead of retried; the error
// names the field, e.g. `transcript.2.role: caller or agent`.
import { z } from 'zod';
import type { MemoryKind } from '../types.ts';
import { normalizePhone } from './crypto.ts';

export const MEMORY_KINDS: readonly MemoryKind[] = ['fact', 'preference', 'summary'];

const timestamp = z
  .union([z.string(), z.number()])
  .refine((v) => !Number.isNaN(new Date(v).getTime()), 'not a timestamp');

const phone = z.string().superRefine((v, ctx) => {
  try {
    normalizePhone(v);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

export const callRecordSchema = z.object({
  callSid: z.string('required').min(1, 'required'),
  from: phone,
  to: z.string().optional(),
  startedAt: timestamp,
  endedAt: timestamp,
  outcome: z.string(),
  transcript: z.array(
    z.object({
      role: z.enum(['caller', 'agent'], 'caller or agent'),
      text: z.string('must be a string'),
      atMs: z.number().finite(),
    }),
    'must be an array',
  ),
  summary: z.string().optional(),
  memories: z
    .array(
      z.object({
        kind: z.enum(MEMORY_KINDS as [MemoryKind, ...MemoryKind[]], `one of ${MEMORY_KINDS.join(', ')}`),
        text: z.string(),
      }),
    )
    .optional(),
});

/** Throws an Error naming the first bad field (`field.path: problem`) when `call` is not a writable record. */
export function checkCallRecord(call: unknown): void {
  const result = callRecordSchema.safeParse(call);
  if (result.success) return;
  const issue = result.error.issues[0];
  const path = issue?.path.length ? issue.path.join('.') : 'record';
  throw new Error(`${path}: ${issue?.message ?? 'invalid'}`);
}
