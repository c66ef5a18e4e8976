// Fake Twilio Calls API, as documented: POST /2010-04-01/Accounts/{Sid}/Calls.json creates a call
// (201 + the Call resource), GET Calls.json lists them (filters To, From, Status, StartTime> / StartTime>=
// / StartTime<; newest first; paged with PageSize, Page, PageToken and next_page_uri), GET Calls/{Sid}.json
// fetches one. Each created call progresses like a real one: initiated → ringing → busy / no-answer /
// failed, or answered → the Url is requested (Direction outbound-api, AnsweredBy with MachineDetection)
// and its <Connect><Stream> is followed by the call simulator through the real gateways, then
// completed. Status callbacks go to StatusCallback for the StatusCallbackEvents asked for (completed
// always), form-encoded and signed with X-Twilio-Signature. Every create is logged, with the attempt id
// the dialer put in the Url, so a test can prove no attempt was dialed twice.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { computeSignature } from '../../voice-gateway/twilio/signature.ts';
import { newCallSid, type SimulatedCall, startCall } from '../simulator/call.ts';
import { postWebhook } from '../simulator/webhook-post.ts';

export type CallOutcome = 'answered' | 'busy' | 'no-answer' | 'machine' | 'failed';

export interface LoggedCall {
  sid: string;
  to: string;
  from: string;
  url: string;
  statusCallback: string;
  events: string[];
  machineDetection: string | undefined;
  attemptId: string | undefined;
  createdAt: number;
  dateCreated: string;
  status: string;
  answeredBy?: string;
  outcome: CallOutcome;
  /** The Url's TwiML: stream (the agent took the call), voicemail/hangup (machine), fallback. */
  answer?: 'stream' | 'say' | 'hangup' | 'fallback' | 'refused';
  endedAt?: number;
  callbacks: { status: string; http: number }[];
  duration?: number;
}

export interface Route {
  /** Where the public URL's host really listens (the front door). */
  gatewayUrl: string;
  publicBaseUrl: string;
}

export interface FakeCallsOptions {
  accountSid: string;
  authToken: string;
  /** Which front door serves a public URL (by its origin). */
  route(publicUrl: string): Route | undefined;
  /** What happens to a call to `to` (the n-th call to that number is `attempt`, 1-based). */
  outcome(to: string, attempt: number): { kind: CallOutcome; talkMs?: number };
  ringMs?: number;
}

const json = (res: ServerResponse, status: number, body: unknown): void =>
  void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
const rfc2822 = (t: number) => new Date(t).toUTCString().replace('GMT', '+0000');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class FakeTwilioCalls {
  readonly calls: LoggedCall[] = [];
  readonly #byTo = new Map<string, number>();
  readonly #o: FakeCallsOptions;
  readonly #done = new Set<Promise<void>>();
  /** Calls between create and their final status, now and at most. */
  live = 0;
  maxLive = 0;
  /** Answered calls whose stream is open, now and at most. */
  streaming = 0;
  maxStreaming = 0;
  /** Create the call but answer HTTP 500 (a lost response) for every n-th create; 0 = never. */
  loseResponseEvery = 0;
  /** Answer HTTP 503 without creating the call for every n-th create request; 0 = never. */
  refuseCreateEvery = 0;
  /** Create requests answered 503 without a call. */
  refusedCreates = 0;
  #requests = 0;
  #creates = 0;

  constructor(o: FakeCallsOptions) {
    this.#o = o;
  }

  /** Handles the Calls list / create / fetch requests; false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://fake');
    const m = /^\/2010-04-01\/Accounts\/([^/]+)\/Calls(?:\/([^/]+))?\.json$/.exec(url.pathname);
    if (!m) return false;
    if (m[2] && req.method === 'POST') return false; // a call update: the REST fake's own route
    const expected = `Basic ${Buffer.from(`${this.#o.accountSid}:${this.#o.authToken}`).toString('base64')}`;
    if (req.headers.authorization !== expected || m[1] !== this.#o.accountSid) {
      json(res, 401, { code: 20003, message: 'Authenticate', status: 401 });
      return true;
    }
    if (req.method === 'GET' && m[2]) {
      const call = this.calls.find((c) => c.sid === m[2]);
      if (!call)
        json(res, 404, { code: 20404, message: 'The requested resource was not found', status: 404 });
      else json(res, 200, this.#resource(call));
      return true;
    }
    if (req.method === 'GET') {
      this.#list(url, res);
      return true;
    }
    if (req.method !== 'POST') {
      json(res, 405, { code: 20004, message: 'Method not allowed', status: 405 });
      return true;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => this.#create(new URLSearchParams(Buffer.concat(chunks).toString()), res));
    return true;
  }

  /** Resolves when every call created so far has reached its final status and sent its callbacks. */
  async settle(): Promise<void> {
    while (this.#done.size) await Promise.all([...this.#done]);
  }

  #create(form: URLSearchParams, res: ServerResponse): void {
    const to = form.get('To') ?? '';
    const from = form.get('From') ?? '';
    const url = form.get('Url') ?? '';
    if (!to) {
      json(res, 400, { code: 21201, message: "No 'To' number is specified", status: 400 });
      return;
    }
    if (!from) {
      json(res, 400, { code: 21213, message: "No 'From' number is specified", status: 400 });
      return;
    }
    if (!url) {
      json(res, 400, { code: 21205, message: 'Url parameter is required', status: 400 });
      return;
    }
    this.#requests++;
    if (this.refuseCreateEvery > 0 && this.#requests % this.refuseCreateEvery === 0) {
      this.refusedCreates++;
      json(res, 503, { code: 20503, message: 'Service Unavailable', status: 503 });
      return;
    }
    const n = (this.#byTo.get(to) ?? 0) + 1;
    this.#byTo.set(to, n);
    const now = Date.now();
    let attemptId: string | undefined;
    try {
      attemptId = new URL(url).searchParams.get('callfleet_attempt') ?? undefined;
    } catch {}
    const call: LoggedCall = {
      sid: newCallSid(),
      to,
      from,
      url,
      statusCallback: form.get('StatusCallback') ?? '',
      events: form.getAll('StatusCallbackEvent').flatMap((e) => e.split(/[ ,]+/)),
      machineDetection: form.get('MachineDetection') ?? undefined,
      attemptId,
      createdAt: now,
      dateCreated: rfc2822(now),
      status: 'queued',
      outcome: this.#o.outcome(to, n).kind,
      callbacks: [],
    };
    this.calls.push(call);
    this.live++;
    this.maxLive = Math.max(this.maxLive, this.live);
    const talkMs = this.#o.outcome(to, n).talkMs ?? 1000;
    const run = this.#progress(call, talkMs).finally(() => {
      this.#done.delete(run);
    });
    this.#done.add(run);
    this.#creates++;
    if (this.loseResponseEvery > 0 && this.#creates % this.loseResponseEvery === 0) {
      json(res, 500, { code: 20500, message: 'Internal Server Error', status: 500 });
      return;
    }
    json(res, 201, this.#resource(call));
  }

  async #progress(call: LoggedCall, talkMs: number): Promise<void> {
    const ringMs = this.#o.ringMs ?? 150;
    await sleep(20);
    await this.#callback(call, 'initiated');
    if (call.outcome === 'failed') return this.#final(call, 'failed');
    await this.#callback(call, 'ringing');
    await sleep(ringMs);
    if (call.outcome === 'busy') return this.#final(call, 'busy');
    if (call.outcome === 'no-answer') return this.#final(call, 'no-answer');
    const machine = call.outcome === 'machine';
    if (call.machineDetection) call.answeredBy = machine ? 'machine_end_beep' : 'human';
    await this.#callback(call, 'in-progress');
    const route = this.#o.route(call.url);
    const started = Date.now();
    if (!route) {
      call.answer = 'refused';
    } else {
      const u = new URL(call.url);
      let sim: SimulatedCall | undefined;
      try {
        sim = await startCall({
          gatewayUrl: route.gatewayUrl,
          publicBaseUrl: route.publicBaseUrl,
          authToken: this.#o.authToken,
          accountSid: this.#o.accountSid,
          callSid: call.sid,
          from: call.from,
          to: call.to,
          webhookPath: `${u.pathname}${u.search}`,
          webhookParams: {
            Direction: 'outbound-api',
            CallStatus: 'in-progress',
            ...(call.answeredBy ? { AnsweredBy: call.answeredBy } : {}),
          },
          hangupAfterMs: talkMs,
          sendAudio: false,
        });
      } catch {
        call.answer = 'refused';
      }
      if (sim) {
        const kind = sim.result.kind;
        if (kind === 'stream') {
          call.answer = 'stream';
          this.streaming++;
          this.maxStreaming = Math.max(this.maxStreaming, this.streaming);
          await sim.done;
          this.streaming--;
        } else if (kind === 'fallback') {
          const twiml = sim.result.twiml;
          call.answer =
            /<Say>/.test(twiml) && machine
              ? 'say'
              : /<Hangup\/>/.test(twiml) && machine
                ? 'hangup'
                : 'fallback';
          await sim.done;
        } else {
          call.answer = 'refused';
        }
      }
    }
    call.duration = Math.max(1, Math.round((Date.now() - started) / 1000));
    return this.#final(call, 'completed');
  }

  async #final(call: LoggedCall, status: string): Promise<void> {
    call.endedAt = Date.now();
    // The call is over before its final callback is sent (as with Twilio).
    this.live--;
    await this.#callback(call, status);
  }

  async #callback(call: LoggedCall, status: string): Promise<void> {
    call.status = status;
    const event = status === 'in-progress' ? 'answered' : status;
    const final = ['completed', 'busy', 'no-answer', 'failed', 'canceled'].includes(status);
    if (!call.statusCallback || (!final && !call.events.includes(event))) return;
    const route = this.#o.route(call.statusCallback);
    if (!route) return;
    const params: Record<string, string> = {
      AccountSid: this.#o.accountSid,
      CallSid: call.sid,
      From: call.from,
      To: call.to,
      CallStatus: status,
      Direction: 'outbound-api',
      ApiVersion: '2010-04-01',
      CallbackSource: 'call-progress-events',
      SequenceNumber: String(call.callbacks.length),
      Timestamp: rfc2822(Date.now()),
    };
    if (call.answeredBy) params.AnsweredBy = call.answeredBy;
    if (status === 'completed') params.CallDuration = String(call.duration ?? 0);
    const u = new URL(call.statusCallback);
    try {
      const res = await postWebhook(
        `${route.gatewayUrl.replace(/\/+$/, '')}${u.pathname}${u.search}`,
        {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': computeSignature(this.#o.authToken, call.statusCallback, params),
        },
        new URLSearchParams(params).toString(),
        5000,
      );
      await res.arrayBuffer();
      call.callbacks.push({ status, http: res.status });
    } catch {
      call.callbacks.push({ status, http: 0 });
    }
  }

  #resource(c: LoggedCall): Record<string, unknown> {
    return {
      sid: c.sid,
      account_sid: this.#o.accountSid,
      to: c.to,
      from: c.from,
      status: c.status,
      direction: 'outbound-api',
      answered_by: c.answeredBy ?? null,
      date_created: c.dateCreated,
      date_updated: rfc2822(c.endedAt ?? c.createdAt),
      start_time: c.status === 'queued' ? null : c.dateCreated,
      end_time: c.endedAt ? rfc2822(c.endedAt) : null,
      duration: c.duration !== undefined ? String(c.duration) : null,
      api_version: '2010-04-01',
      uri: `/2010-04-01/Accounts/${this.#o.accountSid}/Calls/${c.sid}.json`,
    };
  }

  #list(url: URL, res: ServerResponse): void {
    const q = url.searchParams;
    const day = (v: string | null) => (v ? Date.parse(v.length === 10 ? `${v}T00:00:00Z` : v) : undefined);
    const after = day(q.get('StartTime>') ?? q.get('StartTime>='));
    const before = day(q.get('StartTime<') ?? q.get('StartTime<='));
    const on = q.get('StartTime');
    const matching = this.calls
      .filter(
        (c) =>
          (!q.get('To') || c.to === q.get('To')) &&
          (!q.get('From') || c.from === q.get('From')) &&
          (!q.get('Status') || c.status === q.get('Status')) &&
          (after === undefined || c.createdAt >= after) &&
          (before === undefined || c.createdAt < before + (q.has('StartTime<=') ? 86_400_000 : 0)) &&
          (!on || new Date(c.createdAt).toISOString().slice(0, 10) === on),
      )
      .sort((a, b) => b.createdAt - a.createdAt);
    const size = Math.min(1000, Math.max(1, Number(q.get('PageSize') ?? 50)));
    const page = Number(q.get('Page') ?? 0);
    const offset = Number(q.get('PageToken')?.replace(/^PT/, '') ?? 0);
    const slice = matching.slice(offset, offset + size);
    const next = new URLSearchParams(q);
    next.set('Page', String(page + 1));
    next.set('PageToken', `PT${offset + size}`);
    const path = url.pathname;
    json(res, 200, {
      calls: slice.map((c) => this.#resource(c)),
      page,
      page_size: size,
      start: offset,
      end: offset + slice.length - 1,
      uri: `${path}?${q}`,
      first_page_uri: `${path}?${new URLSearchParams({ ...Object.fromEntries(q), Page: '0' })}`,
      next_page_uri: offset + size < matching.length ? `${path}?${next}` : null,
      previous_page_uri: null,
    });
  }
}
