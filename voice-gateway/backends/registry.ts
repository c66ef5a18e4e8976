// Builds the configured backend for a call, and holds one circuit breaker per provider.
import type { GatewayConfig } from '../config/schema.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { CircuitBreaker } from './circuit-breaker.ts';
import { EchoBackend } from './echo.ts';
import { ElevenLabsBackend } from './elevenlabs.ts';
import { OpenAiRealtimeBackend } from './openai-realtime.ts';
import type { AgentBackend, BackendSecrets, BackendSink, Provider } from './types.ts';
import { WebSocketBackend } from './websocket.ts';

export class BackendRegistry {
  readonly #config: GatewayConfig;
  readonly #secrets: BackendSecrets;
  readonly #breakers = new Map<Provider, CircuitBreaker>();
  readonly #metrics: GatewayMetrics;

  constructor(config: GatewayConfig, secrets: BackendSecrets, metrics: GatewayMetrics) {
    this.#config = config;
    this.#secrets = secrets;
    this.#metrics = metrics;
    for (const p of this.chain) metrics.circuitOpen.labels(p).set(0);
  }

  get provider(): Provider {
    return this.#config.agent.provider;
  }

  /** The primary, then the standbys (agent.fallbacks), in the order a call tries them. */
  get chain(): readonly Provider[] {
    return [this.#config.agent.provider, ...this.#config.agent.fallbacks];
  }

  /** Some backend of the chain would take a call now (the voice webhook's decision). */
  get anyAllowsCalls(): boolean {
    return this.chain.some((p) => this.breaker(p).allowsCalls);
  }

  breaker(provider: Provider = this.provider): CircuitBreaker {
    let b = this.#breakers.get(provider);
    if (!b) {
      const cb = this.#config.agent.circuitBreaker;
      b = new CircuitBreaker(cb.failureThreshold, cb.openSeconds * 1000, (open) =>
        this.#metrics.circuitOpen.labels(provider).set(open ? 1 : 0),
      );
      this.#breakers.set(provider, b);
    }
    return b;
  }

  create(sink: BackendSink, withMemoryTool: boolean, provider: Provider = this.provider): AgentBackend {
    const a = this.#config.agent;
    const base = {
      connectTimeoutMs: a.connectTimeoutMs,
      maxPayload: Math.max(this.#config.limits.maxPayloadBytes, 1024 * 1024),
      maxBufferedBytes: this.#config.limits.outboundBufferBytes,
    };
    switch (provider) {
      case 'echo':
        return new EchoBackend(sink, { greeting: a.echo.greeting, pauseMs: a.echo.pauseMs });
      case 'elevenlabs':
        return new ElevenLabsBackend(sink, {
          ...base,
          agentId: a.elevenlabs?.agentId ?? '',
          baseUrl: a.elevenlabs?.baseUrl ?? 'https://api.elevenlabs.io',
          apiKey: this.#secrets.elevenlabsApiKey,
        });
      case 'openai-realtime':
        return new OpenAiRealtimeBackend(sink, {
          ...base,
          model: a.openaiRealtime?.model ?? 'gpt-realtime',
          voice: a.openaiRealtime?.voice,
          instructions: a.openaiRealtime?.instructions,
          baseUrl: a.openaiRealtime?.baseUrl ?? 'wss://api.openai.com',
          apiKey: this.#secrets.openaiApiKey,
          withMemoryTool,
          transferTargets: this.#config.calls.transfer?.targets,
        });
      case 'websocket':
        return new WebSocketBackend(sink, {
          ...base,
          url: a.websocket?.url ?? '',
          token: this.#secrets.websocketToken,
        });
    }
  }
}
