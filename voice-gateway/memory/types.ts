// The contract between the call path (voice-gateway/call, backends) and caller memory
// (voice-gateway/memory). The call path only ever sees these types; PostgreSQL stays behind them.
import type { RecordingTap } from '../recording/recorder.ts';

/** What the agent is told about the caller at the start of a call. No phone number in here. */
export interface CallerContext {
  /** Opaque, stable id of the caller (never the phone number). */
  callerId: string;
  /** True when the caller has called before. */
  returning: boolean;
  /** Number of earlier calls. */
  callCount: number;
  /** Free-form profile facts, e.g. { name: "Ada" }. */
  profile: Record<string, string>;
  /** Most recent memories, newest first (facts, preferences, summaries). */
  memories: MemoryItem[];
  /** Summary of the caller's last call, if any. */
  lastCallSummary?: string;
  /** When the last call ended (ISO 8601). */
  lastCallAt?: string;
  /** A campaign call's per-recipient variables (CSV columns), passed to the agent as they are. */
  variables?: Record<string, string>;
}

export type MemoryKind = 'fact' | 'preference' | 'summary';

export interface MemoryItem {
  kind: MemoryKind;
  text: string;
  createdAt: string;
}

export interface TranscriptTurn {
  role: 'caller' | 'agent';
  text: string;
  /** Milliseconds since the stream started. */
  atMs: number;
}

/** Everything the gateway writes when a call ends (or before it hands a call off). */
export interface CallRecord {
  callSid: string;
  /** Caller's phone number in E.164; encrypted / hashed by the store, never logged. */
  from: string;
  to: string;
  startedAt: string;
  endedAt: string;
  outcome: string;
  transcript: TranscriptTurn[];
  /** Summary memory to store for the caller; the store derives one from the transcript if absent. */
  summary?: string;
  /** Extra memories extracted during the call. */
  memories?: { kind: MemoryKind; text: string }[];
}

/**
 * What a draining pod leaves for the pod that takes over a live call (drain.handoff): written just
 * before the Twilio REST update, read (and deleted) once by the pod that receives the resumed stream.
 */
export interface HandoffRecord {
  callSid: string;
  from: string;
  to: string;
  /** When the call (its first stream) started, ISO 8601: the call is one call across pods. */
  startedAt: string;
  /** Transcript so far; atMs counts from startedAt. */
  transcript: TranscriptTurn[];
  /** The caller's memory as looked up at the start of the call (null: unknown caller or no lookup). */
  context: CallerContext | null;
  /** How many times this call has been handed off so far (including this one). */
  handoffs: number;
}

/** The caller-memory port the gateway uses. Implementations must never throw into the audio path. */
export interface CallerMemory {
  /** Resolves within budgetMs or returns null (a counted miss); never rejects. */
  lookup(phone: string, budgetMs: number): Promise<CallerContext | null>;
  /** Full-text search over the caller's memories and transcripts (the `search_memory` tool). */
  search(callerId: string, query: string, limit?: number): Promise<MemoryItem[]>;
  /** Queues the record; retried with backoff until written. Never rejects. */
  record(call: CallRecord): void;
  /** Stores a hand-off record (encrypted, expires after a TTL). Rejects when it could not be written. */
  saveHandoff?(record: HandoffRecord): Promise<void>;
  /** Reads and deletes the hand-off record of a call; null when absent or expired. Rejects on errors. */
  takeHandoff?(callSid: string): Promise<HandoffRecord | null>;
  /** A recording tap for the call when call recording is on (voice-gateway/recording/), else undefined. */
  openRecording?(call: { callSid: string; streamSid: string; from: string }): RecordingTap | undefined;
  /** Waits until queued records are written or the deadline passes. */
  flush(deadlineMs: number): Promise<void>;
  close(): Promise<void>;
}
