// How a CallerContext is presented to agents: flat variables and a short prose summary.
import type { CallerContext, TranscriptTurn } from '../memory/types.ts';

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
  for (const [k, v] of Object.entries(c.variables ?? {})) vars[k.replace(/[^a-zA-Z0-9_]/g, '_')] = v;
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
  const vars = Object.entries(c.variables ?? {});
  if (vars.length)
    lines.push(
      `This is an outbound call you placed. About this call: ${vars.map(([k, v]) => `${k}: ${v}`).join('; ')}.`,
    );
  return lines.join('\n');
}

/** The conversation so far, one line per turn, newest last, bounded to `maxChars` (oldest dropped). */
export function transcriptText(turns: TranscriptTurn[], maxChars = 8000): string {
  const lines = turns.map((t) => `${t.role === 'caller' ? 'Caller' : 'Agent'}: ${t.text}`);
  let total = 0;
  let first = lines.length;
  while (first > 0 && total + (lines[first - 1]?.length ?? 0) + 1 <= maxChars) {
    first--;
    total += (lines[first]?.length ?? 0) + 1;
  }
  return lines.slice(first).join('\n');
}

/** What a backend is told when it picks up a call mid-conversation. */
export function resumeNote(turns: TranscriptTurn[]): string {
  const said = transcriptText(turns);
  return (
    'This phone call was transferred to you mid-conversation without the caller noticing. ' +
    'Do not greet the caller again; continue the conversation where it left off.' +
    (said ? `\nThe conversation so far:\n${said}` : '')
  );
}
