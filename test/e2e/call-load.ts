// Places many simulated Twilio calls with planned durations through a front door and counts them:
// placed, answered (media stream opened), completed (the caller hung up at the planned time) and cut
// (the stream closed before the caller hung up). The scenario tests of issue 7 print the summary line.
import {
  type CallOptions,
  type CallResult,
  type SimulatedCall,
  speechPattern,
  startCall,
} from '../simulator/call.ts';

export interface Target {
  gatewayUrl: string;
  publicBaseUrl: string;
  authToken: string;
}

export interface LoadOptions {
  count: number;
  /** Planned call durations are spread evenly over [minMs, maxMs] (shuffled). */
  minMs: number;
  maxMs: number;
  /** Calls are dialled evenly over this window (default 0: all at once). */
  rampMs?: number;
  /**
   * speech: a short tone burst every few seconds and 20 ms silence frames between (real Twilio
   * traffic, 50 frames/s both ways); dtmf: no media frames, a DTMF key every 5 s (keeps the call
   * alive against the silence timeout at a fraction of the load).
   */
  audio?: 'speech' | 'dtmf';
  /** Tag shown in the summary (e.g. "live", "during rollout"). */
  label?: string;
}

export interface TrackedCall {
  label: string;
  plannedMs: number;
  placedAt: number;
  call?: SimulatedCall;
  result?: CallResult;
  error?: string;
}

export interface LoadSummary {
  placed: number;
  /** The webhook answered with a <Stream> and the media stream opened. */
  answered: number;
  /** Answered and ended by the caller's own hang-up at the planned time. */
  completed: number;
  /** Answered, but the stream ended before the caller hung up. */
  cut: number;
  /** Not answered: fallback TwiML, a refused webhook / stream, or a network error. */
  unanswered: number;
  still: number;
}

/** Tolerance for "ended at the planned time" (the simulator ticks every 10 ms). */
const PLANNED_SLACK_MS = 200;

export function classify(t: TrackedCall): 'completed' | 'cut' | 'unanswered' | 'live' {
  if (t.error) return 'unanswered';
  if (!t.result) return t.call ? 'live' : 'unanswered';
  const r = t.result;
  if (r.kind !== 'stream') return 'unanswered';
  if (r.endedBy === 'caller' && r.durationMs >= t.plannedMs - PLANNED_SLACK_MS) return 'completed';
  return 'cut';
}

/** Deterministic shuffle of durations spread over [min, max]. */
export function plannedDurations(count: number, minMs: number, maxMs: number): number[] {
  const step = count > 1 ? (maxMs - minMs) / (count - 1) : 0;
  const out = Array.from({ length: count }, (_, i) => Math.round(minMs + i * step));
  let seed = 7;
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j] as number, out[i] as number];
  }
  return out;
}

export class CallLoad {
  readonly calls: TrackedCall[] = [];
  readonly #target: Target;
  readonly #pending: Promise<void>[] = [];

  constructor(target: Target) {
    this.#target = target;
  }

  /** Dials `count` calls (spread over rampMs); resolves once every one is dialled (answered or not). */
  async place(o: LoadOptions): Promise<TrackedCall[]> {
    const durations = plannedDurations(o.count, o.minMs, o.maxMs);
    const gap = o.count > 1 && o.rampMs ? o.rampMs / (o.count - 1) : 0;
    const mine: TrackedCall[] = [];
    const dials: Promise<void>[] = [];
    for (let i = 0; i < o.count; i++) {
      if (i > 0 && gap > 0) await sleep(gap);
      const planned = durations[i] as number;
      const tracked: TrackedCall = { label: o.label ?? 'call', plannedMs: planned, placedAt: Date.now() };
      this.calls.push(tracked);
      mine.push(tracked);
      const options: CallOptions = { ...this.#target, hangupAfterMs: planned };
      if ((o.audio ?? 'speech') === 'speech') options.audio = speechPattern(planned, 400, 4600);
      else options.sendAudio = false;
      const dial = startCall(options).then(
        (call) => {
          tracked.call = call;
          let dtmf: NodeJS.Timeout | undefined;
          if (o.audio === 'dtmf' && call.result.kind === 'stream') {
            dtmf = setInterval(() => call.sendDtmf('1'), 5000);
          }
          this.#pending.push(
            call.done.then((r) => {
              clearInterval(dtmf);
              tracked.result = r;
            }),
          );
        },
        (error: unknown) => {
          // fetch's own message is "fetch failed": the reason is in its cause (ECONNRESET, other side closed...).
          const cause = error instanceof Error && error.cause ? `: ${String(error.cause)}` : '';
          tracked.error = `${String(error)}${cause}`;
        },
      );
      dials.push(dial);
    }
    await Promise.all(dials);
    return mine;
  }

  /** Resolves when every call placed so far has ended. */
  async settle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#pending.length) {
      const batch = this.#pending.splice(0);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now()));
      });
      const outcome = await Promise.race([Promise.all(batch), timeout]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        throw new Error(`calls still live after ${timeoutMs} ms: ${JSON.stringify(this.summary())}`);
      }
    }
  }

  summary(filter: (t: TrackedCall) => boolean = () => true): LoadSummary {
    const s: LoadSummary = { placed: 0, answered: 0, completed: 0, cut: 0, unanswered: 0, still: 0 };
    for (const t of this.calls.filter(filter)) {
      s.placed++;
      const c = classify(t);
      if (c === 'completed') s.completed++;
      else if (c === 'cut') s.cut++;
      else if (c === 'unanswered') s.unanswered++;
      else s.still++;
      if (c !== 'unanswered') s.answered++;
    }
    return s;
  }

  /** `calls: N placed, N completed, 0 cut` (+ unanswered / live when there are any). */
  line(filter?: (t: TrackedCall) => boolean): string {
    const s = this.summary(filter);
    let text = `calls: ${s.placed} placed, ${s.completed} completed, ${s.cut} cut`;
    if (s.unanswered) text += `, ${s.unanswered} not answered`;
    if (s.still) text += `, ${s.still} still live`;
    return text;
  }

  /** Why each cut / unanswered call failed (for assertion messages). */
  failures(limit = 10): string[] {
    return this.calls
      .filter((t) => {
        const c = classify(t);
        return c === 'cut' || c === 'unanswered';
      })
      .slice(0, limit)
      .map((t) => {
        const r = t.result;
        if (!r) return `${t.label}: ${t.error ?? 'never dialled'}`;
        return `${t.label} ${t.call?.callSid}: kind=${r.kind} endedBy=${r.endedBy} close=${r.closeCode} after ${Math.round(r.durationMs)}/${t.plannedMs} ms; webhook ${r.webhookStatus} ${r.kind === 'stream' ? '' : r.twiml.slice(0, 160)}`;
      });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
