// The one small interface every agent backend implements. Audio crossing it is always base64
// G.711 mu-law at 8 kHz (what Twilio speaks); a backend that needs another format transcodes inside.
import type { CallerContext, TranscriptTurn } from '../memory/types.ts';

export type Provider = 'echo' | 'elevenlabs' | 'openai-realtime' | 'websocket';

export interface BackendStart {
  callSid: string;
  streamSid: string;
  from: string;
  to: string;
  context: CallerContext | null;
  /**
   * Set when this stream resumes a call another pod handed off (drain.handoff): the conversation so
   * far. The backend continues it and must not greet the caller again.
   */
  resumed?: { transcript: TranscriptTurn[] } | undefined;
}

/** What a backend reports to the call session. Called synchronously from the backend's socket handlers. */
export interface BackendSink {
  /**
   * Agent audio to play, base64 mu-law 8 kHz. `itemId` identifies the agent utterance (for truncation);
   * `receivedAt` is the `performance.now()` at which the backend message carrying it arrived, if any.
   */
  audio(payloadB64: string, itemId: string | undefined, receivedAt?: number): void;
  /** The backend says the caller interrupted: clear what the caller has not heard yet. */
  interrupted(): void;
  transcript(role: 'caller' | 'agent', text: string): void;
  toolCall(name: string, callId: string, params: Record<string, unknown>): void;
  conversationId(id: string): void;
  /** The agent wants the call to end (websocket protocol `hangup`). */
  hangup(): void;
  /** Counted protocol error that does not end the call. */
  protocolError(reason: string): void;
  /** Agent audio the backend dropped itself (e.g. audio of an interrupted response). */
  audioDropped(): void;
  /** The backend connection died or failed. Called at most once, never after close(). */
  failed(err: Error): void;
}

export interface AgentBackend {
  readonly provider: Provider;
  /** True when every payload this backend gives `sink.audio` was already checked to be base64. */
  readonly checksAudio?: boolean;
  /** Connects and starts the conversation; rejects when the backend cannot be reached. */
  start(s: BackendStart): Promise<void>;
  /** Caller audio (base64 mu-law 8 kHz). Returns false when dropped for backpressure. */
  sendAudio(payloadB64: string): boolean;
  sendDtmf(digit: string): void;
  /** After an interruption: the caller heard only `playedMs` of agent item `itemId` (backends that can truncate). */
  truncate?(itemId: string, playedMs: number): void;
  toolResult(callId: string, result: string, isError: boolean): void;
  /**
   * Asks the agent to speak now, steered by `instruction` (a silence re-prompt), without a caller turn.
   * Backends that cannot take instructions ignore it.
   */
  reprompt?(instruction: string): void;
  /** Epoch ms of the last message the backend sent (stall detection); absent for local backends. */
  readonly lastEventAt?: number;
  close(): void;
}

/** The transfer tool the agent may call (calls.transfer): its name and parameters, one definition. */
export const TRANSFER_TOOL = 'transfer_call';
export const TRANSFER_TOOL_DESCRIPTION =
  'Transfer the caller to a human. Call it when the caller asks for a person or you cannot help further.';

/** JSON schema of the transfer tool's parameters, for the target names configured. */
export function transferToolParameters(targets: { name: string; description?: string | undefined }[]) {
  return {
    type: 'object',
    properties: {
      target: {
        type: 'string',
        enum: targets.map((t) => t.name),
        description: `Who to transfer to: ${targets.map((t) => `${t.name}${t.description ? ` (${t.description})` : ''}`).join('; ')}. Default: ${targets[0]?.name ?? ''}.`,
      },
      message: { type: 'string', description: 'A short sentence said to the caller before the transfer.' },
      warm: { type: 'boolean', description: 'Pass a short summary of the conversation to the human.' },
      summary: { type: 'string', description: 'The summary for a warm transfer (a few sentences).' },
    },
    required: [],
  };
}

export interface BackendSecrets {
  elevenlabsApiKey?: string | undefined;
  openaiApiKey?: string | undefined;
  websocketToken?: string | undefined;
}
