// Standby backends (agent.fallbacks, ADR 0019): a call tries the chain primary → standbys in order,
// each provider behind its own circuit breaker. The same walk serves a call's start and a mid-call
// failover (the backend dropped or stalled); the session resumes the conversation on the backend it
// returns as the live-call hand-off does (transcript so far, caller memory, no greeting), and replays
// the caller's pending turn so the standby answers it.
import type { BackendRegistry } from '../backends/registry.ts';
import type { AgentBackend, BackendSink, BackendStart, Provider } from '../backends/types.ts';
import type { Logger } from '../log.ts';
import type { TranscriptTurn } from '../memory/types.ts';
import type { GatewayMetrics } from '../metrics.ts';

export { TurnAudio, turnAudioBlocksHeld } from './turn-audio.ts';

/** Why a call left a backend (the `reason` label of callfleet_failovers_total). */
export type FailoverReason = 'connect_failed' | 'circuit_open' | 'dropped' | 'stalled';

export interface ChainConnect {
  registry: BackendRegistry;
  metrics: GatewayMetrics;
  log: Logger;
  sink: BackendSink;
  withMemoryTool: boolean;
  start: BackendStart;
  /** The backend that just failed mid-call (skipped in this walk), and why. */
  failed?: { provider: Provider; reason: FailoverReason } | undefined;
  /** False once the call ended: the walk stops and closes what it opened. */
  alive(): boolean;
  /** A backend is being tried: it may already ask for tools while it starts. */
  trying(backend: AgentBackend): void;
}

export interface ChainResult {
  backend: AgentBackend | undefined;
  /** Why the walk found nothing: the last provider's reason (circuit_open when none was even tried). */
  reason: FailoverReason;
}

/**
 * Connects the first provider of the chain that takes the call. Every provider tried or skipped is
 * one hop of callfleet_failovers_total (from → the next provider tried, or `none`).
 */
export async function connectChain(c: ChainConnect): Promise<ChainResult> {
  let hop: { from: Provider; reason: FailoverReason } | undefined = c.failed
    ? { from: c.failed.provider, reason: c.failed.reason }
    : undefined;
  const count = (to: string) => {
    if (hop) c.metrics.failovers.labels(hop.from, to, hop.reason).inc();
  };
  for (const provider of c.registry.chain) {
    if (provider === c.failed?.provider) continue;
    if (!c.alive()) return { backend: undefined, reason: hop?.reason ?? 'circuit_open' };
    const breaker = c.registry.breaker(provider);
    if (!breaker.tryAcquire()) {
      count(provider);
      hop = { from: provider, reason: 'circuit_open' };
      continue;
    }
    count(provider);
    // Failures before the session takes the backend make this attempt fail; after, they are the session's.
    let attached = false;
    let early: Error | undefined;
    const sink: BackendSink = {
      ...c.sink,
      failed: (err) => {
        if (attached) c.sink.failed(err);
        else early ??= err;
      },
    };
    const backend = c.registry.create(sink, c.withMemoryTool, provider);
    c.trying(backend);
    try {
      await backend.start(c.start);
      if (early) throw early;
    } catch (err) {
      breaker.failure();
      c.metrics.backendErrors.labels(provider).inc();
      c.log.error({ err: (err as Error).message, provider }, 'agent backend unavailable');
      backend.close();
      hop = { from: provider, reason: 'connect_failed' };
      continue;
    }
    breaker.success();
    if (!c.alive()) {
      backend.close();
      return { backend: undefined, reason: 'connect_failed' };
    }
    if (c.failed || provider !== c.registry.provider)
      c.log.warn(
        { provider, from: c.failed?.provider, reason: c.failed?.reason },
        'call on a standby backend',
      );
    attached = true;
    return { backend, reason: 'connect_failed' };
  }
  if (c.alive()) count('none');
  return { backend: undefined, reason: hop?.reason ?? 'circuit_open' };
}

/** The resume payload of a standby: the transcript so far, minus a pending caller turn the audio replays. */
export function resumeTranscript(transcript: TranscriptTurn[], pendingTurn: boolean): TranscriptTurn[] {
  const turns = [...transcript];
  if (pendingTurn && turns.at(-1)?.role === 'caller') turns.pop();
  return turns;
}
