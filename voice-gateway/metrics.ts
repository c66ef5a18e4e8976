// Prometheus metrics. Per-frame counters are plain numbers folded into prom-client at scrape time,
// so the media path never hashes label sets.
import { Counter, collectDefaultMetrics, type Gauge, type Histogram, Registry } from 'prom-client';
import { counter, gauge, histogram } from './lib/metric.ts';
import { RelayLatency } from './relay-latency.ts';

export type FrameDirection = 'in' | 'out' | 'to_backend' | 'from_backend';
export type DropReason = 'queue_full' | 'twilio_backpressure' | 'backend_backpressure' | 'interrupted';
export type MalformedReason =
  | 'binary'
  | 'invalid_json'
  | 'unknown_event'
  | 'missing_fields'
  | 'wrong_stream_sid'
  | 'oversize'
  | 'flood'
  | 'before_start'
  | 'too_deep'
  | 'over_budget'
  | 'cpu_budget';

function foldedCounter(
  registry: Registry,
  name: string,
  help: string,
  label: string,
  values: Record<string, number>,
) {
  const last: Record<string, number> = {};
  return new Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      for (const [k, v] of Object.entries(values)) {
        const d = v - (last[k] ?? 0);
        if (d > 0) this.labels(k).inc(d);
        last[k] = v;
      }
    },
  });
}

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly frames: Record<FrameDirection, number> = { in: 0, out: 0, to_backend: 0, from_backend: 0 };
  readonly dropped: Record<DropReason, number> = {
    queue_full: 0,
    twilio_backpressure: 0,
    backend_backpressure: 0,
    interrupted: 0,
  };
  readonly malformed: Record<MalformedReason, number> = {
    binary: 0,
    invalid_json: 0,
    unknown_event: 0,
    missing_fields: 0,
    wrong_stream_sid: 0,
    oversize: 0,
    flood: 0,
    before_start: 0,
    too_deep: 0,
    over_budget: 0,
    cpu_budget: 0,
  };
  readonly activeCalls: Gauge;
  readonly capacity: Gauge;
  readonly openStreams: Gauge;
  readonly streamsRefused: Counter<'reason'>;
  readonly calls: Counter<'outcome'>;
  readonly callDuration: Histogram;
  readonly firstAudio: Histogram;
  readonly responseLatency: Histogram;
  readonly backendErrors: Counter<'provider'>;
  readonly circuitOpen: Gauge<'provider'>;
  readonly draining: Gauge;
  readonly websocketDrops: Counter;
  readonly webhooks: Counter<'result'>;
  readonly signatureRejected: Counter<'endpoint'>;
  /** Requests refused before routing: bad paths, oversized or slow bodies (by door and reason). */
  readonly httpRejected: Counter<'door' | 'reason'>;
  /** Requests answered, by route label (http-metrics.ts routeOf) and status code; and their duration. */
  readonly httpRequests: Counter<'route' | 'code'>;
  readonly httpDuration: Histogram<'route'>;
  readonly memoryLookups: Counter<'result'>;
  readonly handoffs: Counter<'result'>;
  readonly handoffGap: Histogram;
  readonly failovers: Counter<'from' | 'to' | 'reason'>;
  readonly failoverGap: Histogram;
  readonly transfers: Counter<'result'>;
  readonly reprompts: Counter;
  /** Time in the gateway per relayed audio message (handler start to send returned). */
  readonly relayLatency = new RelayLatency();

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const r = this.registry;
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: r, prefix: 'callfleet_' });
    this.activeCalls = gauge(r, 'callfleet_active_calls', 'Calls with a live media stream on this pod');
    this.capacity = gauge(
      r,
      'callfleet_call_capacity',
      'Calls this pod takes at most (calls.maxConcurrentPerPod)',
    );
    this.openStreams = gauge(
      r,
      'callfleet_open_streams',
      'Open media-stream WebSockets, also those that have not (yet) become a call',
    );
    this.streamsRefused = counter(
      r,
      'callfleet_streams_refused_total',
      'Media streams refused at the upgrade or closed before becoming a call, by reason',
      ['reason'],
    );
    this.calls = counter(r, 'callfleet_calls_total', 'Calls ended, by outcome', ['outcome']);
    this.callDuration = histogram(
      r,
      'callfleet_call_duration_seconds',
      'Media stream duration',
      [5, 15, 30, 60, 120, 300, 600, 1200, 3600],
    );
    this.firstAudio = histogram(
      r,
      'callfleet_first_audio_seconds',
      'Time from stream start to the first agent audio sent to the caller',
      [0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10],
    );
    this.responseLatency = histogram(
      r,
      'callfleet_response_latency_seconds',
      'Time from the caller stopping speaking to the first agent audio',
      [0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10],
    );
    foldedCounter(
      r,
      'callfleet_frames_total',
      'Media stream and backend messages, by direction',
      'direction',
      this.frames,
    );
    foldedCounter(
      r,
      'callfleet_frames_dropped_total',
      'Audio frames dropped to bound memory or on barge-in',
      'reason',
      this.dropped,
    );
    foldedCounter(
      r,
      'callfleet_frames_malformed_total',
      'Inbound frames rejected, by reason',
      'reason',
      this.malformed,
    );
    this.backendErrors = counter(
      r,
      'callfleet_backend_errors_total',
      'Agent backend failures (connect or mid-call), by provider',
      ['provider'],
    );
    this.circuitOpen = gauge(
      r,
      'callfleet_circuit_open',
      '1 while the circuit breaker of a backend is open',
      ['provider'],
    );
    this.draining = gauge(r, 'callfleet_draining', '1 once the pod is draining');
    this.websocketDrops = counter(
      r,
      'callfleet_websocket_drops_total',
      'Media stream WebSockets that closed without a stop event',
    );
    this.webhooks = counter(r, 'callfleet_webhooks_total', 'Voice webhooks answered, by result', ['result']);
    this.signatureRejected = counter(
      r,
      'callfleet_signature_rejected_total',
      'Requests refused for a missing or wrong X-Twilio-Signature',
      ['endpoint'],
    );
    this.httpRejected = counter(
      r,
      'callfleet_http_rejected_total',
      'HTTP requests refused before routing (path_* = ambiguous path, body_* = oversized, slow or aborted body), by door',
      ['door', 'reason'],
    );
    this.httpRequests = counter(
      r,
      'callfleet_http_requests_total',
      'HTTP requests answered, by route and status code',
      ['route', 'code'],
    );
    this.httpDuration = histogram(
      r,
      'callfleet_http_request_duration_seconds',
      'Time from a request arriving to its response being sent, by route',
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      ['route'],
    );
    this.memoryLookups = counter(
      r,
      'callfleet_memory_lookups_total',
      'Caller memory lookups at stream start, by result',
      ['result'],
    );
    this.handoffs = counter(
      r,
      'callfleet_handoffs_total',
      'Live-call hand-offs at the drain deadline, by result: sent, no_memory, no_rest, store_failed, rest_failed (draining pod); resumed, resumed_without_record (receiving pod)',
      ['result'],
    );
    this.handoffGap = histogram(
      r,
      'callfleet_handoff_gap_seconds',
      'Time from the draining pod handing a call off to the first caller audio on the resumed stream',
      [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10],
    );
    this.failovers = counter(
      r,
      'callfleet_failovers_total',
      'Calls moved from one agent backend to the next, by provider (to="none": every backend down, the caller got the fallback) and reason: connect_failed, circuit_open, dropped, stalled',
      ['from', 'to', 'reason'],
    );
    this.failoverGap = histogram(
      r,
      'callfleet_failover_gap_seconds',
      'Caller-perceived gap of a mid-call failover: from the backend failing (or being found stalled) to the first agent audio of the standby when the caller was waiting for an answer, else to the standby being ready',
      [0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10],
    );
    this.transfers = counter(
      r,
      'callfleet_transfers_total',
      'transfer_call requests of the agent, by result: transferred, refused_target (not configured), not_configured, rest_failed',
      ['result'],
    );
    this.reprompts = counter(
      r,
      'callfleet_reprompts_total',
      'Times the agent was asked to re-engage a silent caller (calls.reprompt)',
    );
    this.relayLatency.register(
      r,
      'callfleet_relay_latency_seconds',
      'Time an audio message spends in the gateway, from its message handler starting to the relayed send returning',
    );
  }
}
