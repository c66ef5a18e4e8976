// Bounds of one HTTP request, in bytes and in time (ARCHITECTURE rule 11). Twilio and ElevenLabs send
// small form/JSON bodies in one go; a client that trickles headers or a body, or sends one that never
// ends, is cut off at these limits instead of holding a socket and memory.
import type { Server } from 'node:http';

export interface HttpLimits {
  /** Largest request body read (bytes); beyond it 413 and the connection is closed. */
  maxBodyBytes: number;
  /** Time to receive the complete request headers (Node's server.headersTimeout). */
  headersTimeoutMs: number;
  /** Time to receive the whole body once the headers are in; beyond it 408 and the connection is closed. */
  bodyTimeoutMs: number;
  /** Time for the whole request, headers and body (Node's server.requestTimeout). */
  requestTimeoutMs: number;
  /** Idle time of a kept-alive connection between requests. */
  keepAliveTimeoutMs: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  maxBodyBytes: 64 * 1024,
  headersTimeoutMs: 5_000,
  bodyTimeoutMs: 10_000,
  requestTimeoutMs: 15_000,
  keepAliveTimeoutMs: 5_000,
};

/** How often Node checks headersTimeout / requestTimeout (its default of 30 s would stretch both). */
export function checkIntervalMs(l: HttpLimits): number {
  return Math.max(100, Math.min(1_000, Math.floor(l.headersTimeoutMs / 4)));
}

/** Applies the time limits to a server (created with connectionsCheckingInterval = checkIntervalMs). */
export function applyTimeouts(server: Server, l: HttpLimits): void {
  server.headersTimeout = l.headersTimeoutMs;
  server.requestTimeout = l.requestTimeoutMs;
  server.keepAliveTimeout = l.keepAliveTimeoutMs;
  // A socket that never sends a byte is not covered by headersTimeout: the inactivity timeout closes it.
  // Node drops this timeout from upgraded sockets, so media streams are never idled out by it.
  server.timeout = l.requestTimeoutMs;
  server.maxRequestsPerSocket = 1_000;
}
