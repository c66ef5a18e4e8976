// What became of a call (the label of callfleet_calls_total), shared by the session and the server.

export type CallOutcome =
  | 'completed'
  | 'dropped'
  | 'handed_off'
  | 'transferred'
  | 'max_duration'
  | 'silence_timeout'
  | 'drain_deadline'
  | 'circuit_open'
  | 'backend_unavailable'
  | 'backend_failed';

/** Outcomes that count as a failed call (the caller got the fallback, or the stream broke). */
export const FAILED_OUTCOMES: ReadonlySet<CallOutcome> = new Set<CallOutcome>([
  'backend_failed',
  'backend_unavailable',
  'circuit_open',
  'dropped',
]);

/** Why a media stream was refused or closed before it became a call (callfleet_streams_refused_total). */
export type StreamRefusal =
  | 'capacity'
  | 'evicted'
  | 'duplicate_pending'
  | 'start_timeout'
  | 'dead_peer'
  | 'credential_missing'
  | 'credential_invalid'
  | 'credential_expired'
  | 'credential_replayed'
  | 'call_mismatch'
  | 'draining';
