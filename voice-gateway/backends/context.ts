// How a CallerContext is presented to agents: flat variables and a short prose summary.
import type { CallerContext } from '../memory/types.ts';

export function contextVariables(c: CallerContext): Record<string, string | number | boolean> {
  const vars: Record<string, string | number | boolean> = {
    caller_id: c.callerId,
    returning_caller: c.returning,
    call_count: c.callCount,
  };
  for (const [k, v] of Object.entries(c.profile)) vars[`caller_${k.replace(/[^a-zA-Z0-9_]/g, '_')}`] = v;
  if (c.lastCallSummary) vars.last_call_summary = c.lastCallSummary;
  if (c.lastCallAt) vars.last_call_at = c.lastCallAt;
  if (c.memories.length) vars.caller_memories = c.memories.map((m) => `- ${m.text}`).join('\n');
  return vars;
}

export function contextText(c: CallerContext): string {
  const lines = [
    c.returning ? `This caller has called ${c.callCount} time(s) before.` : 'This is a first-time caller.',
  ];
  const profile = Object.entries(c.profile);
  if (profile.length)
    lines.push(`Known about the caller: ${profile.map(([k, v]) => `${k}: ${v}`).join('; ')}.`);
  if (c.lastCallSummary) lines.push(`Last call: ${c.lastCallSummary}`);
  for (const m of c.memories.slice(0, 10)) lines.push(`- (${m.kind}) ${m.text}`);
  return lines.join('\n');
}
