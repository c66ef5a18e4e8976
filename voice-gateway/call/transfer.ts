// Transfer to a human on the agent's request (calls.transfer, ADR 0019). The agent calls the
// `transfer_call` tool (ElevenLabs client tool, OpenAI function, websocket tool_call) with an optional
// target, sentence, warm flag and summary. Only a configured target is ever dialled: anything else is
// refused and the agent is told which targets exist. The call then ends here in a Twilio `<Dial>`
// (REST call update); a warm transfer's summary is whispered to the human and/or kept in caller memory.
import type { GatewayConfig } from '../config/schema.ts';
import type { TranscriptTurn } from '../memory/types.ts';
import { dialTwiml } from '../twilio/twiml.ts';
import { MAX_SUMMARY_CHARS } from '../twilio/whisper-token.ts';

type TransferConfig = NonNullable<GatewayConfig['calls']['transfer']>;

export interface TransferRequest {
  target?: string | undefined;
  message?: string | undefined;
  warm: boolean;
  summary?: string | undefined;
}

export type TransferDecision =
  | {
      ok: true;
      target: string;
      twiml: string;
      /** The summary to keep in caller memory (warm, summaryVia memory or both). */
      memorySummary?: string | undefined;
      /** The summary whispered to the human (warm, summaryVia whisper or both). */
      whisper?: string | undefined;
    }
  | { ok: false; result: 'refused_target' | 'not_configured'; message: string };

const text = (v: unknown, max: number): string | undefined =>
  typeof v === 'string' && v.trim() ? v.trim().slice(0, max) : undefined;

export function parseTransferRequest(params: Record<string, unknown>): TransferRequest {
  return {
    target: text(params.target, 300),
    message: text(params.message, 1000),
    warm: params.warm === true || params.warm === 'true',
    summary: text(params.summary, MAX_SUMMARY_CHARS),
  };
}

/** The agent's summary, or the last turns of the conversation (bounded). */
export function transferSummary(req: TransferRequest, transcript: TranscriptTurn[]): string {
  if (req.summary) return req.summary;
  const lines: string[] = [];
  let chars = 0;
  for (let i = transcript.length - 1; i >= 0; i--) {
    const t = transcript[i] as TranscriptTurn;
    const line = `${t.role === 'caller' ? 'Caller' : 'Agent'}: ${t.text}`;
    if (chars + line.length > MAX_SUMMARY_CHARS - 40) break;
    lines.unshift(line);
    chars += line.length + 1;
  }
  return lines.length ? `Transferred call. ${lines.join(' ')}` : 'Transferred call; no conversation yet.';
}

export function decideTransfer(
  cfg: TransferConfig | undefined,
  req: TransferRequest,
  transcript: TranscriptTurn[],
  whisperUrl: ((summary: string) => string) | undefined,
): TransferDecision {
  if (!cfg) {
    return {
      ok: false,
      result: 'not_configured',
      message: 'Transfer is not available: no transfer targets are configured. Keep helping the caller.',
    };
  }
  const names = cfg.targets.map((t) => t.name).join(', ');
  const target = req.target
    ? cfg.targets.find((t) => t.name === req.target || t.dial === req.target)
    : cfg.targets[0];
  if (!target) {
    return {
      ok: false,
      result: 'refused_target',
      message: `Transfer refused: "${req.target}" is not a configured target. Allowed targets: ${names}.`,
    };
  }
  const summary = req.warm ? transferSummary(req, transcript) : undefined;
  const whisper = summary && cfg.summaryVia !== 'memory' && whisperUrl ? summary : undefined;
  return {
    ok: true,
    target: target.name,
    twiml: dialTwiml({
      say: req.message ?? cfg.say,
      dial: target.dial,
      timeoutSeconds: cfg.dialTimeoutSeconds,
      whisperUrl: whisper && whisperUrl ? whisperUrl(whisper) : undefined,
    }),
    whisper,
    memorySummary:
      summary && cfg.summaryVia !== 'whisper' ? `Transferred to ${target.name}: ${summary}` : undefined,
  };
}
