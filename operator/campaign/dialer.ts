// One campaign's dialer, run by the operator leader. Each tick: settle finished attempts (retry or
// final), reconcile attempts whose fate is unknown against Twilio's Calls list, then place new calls
// within the budget. Every attempt is recorded (fenced by the dialer's epoch) BEFORE the Calls create
// request, and a create is only sent while the record is younger than SEND_DEADLINE_MS; an attempt
// with no call sid is reconciled only once it is older than RECONCILE_AFTER_MS, when no create for it
// can still reach Twilio. So after a crash or a leader change no recipient is dialed twice for the
// same attempt (ADR 0018).
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { CallCampaignSpec, CampaignCounts } from '../../cdk8s/api/v1alpha1/callcampaign.ts';
import {
  ATTEMPT_PARAM,
  type Outcome,
  recordProgress,
  VOICEMAIL_PARAM,
} from '../../voice-gateway/campaign/attempts.ts';
import { decryptPhone, importRecipients } from '../../voice-gateway/campaign/recipients.ts';
import { ensureCampaignSchema } from '../../voice-gateway/campaign/schema.ts';
import type { Keyring } from '../../voice-gateway/memory/store/crypto.ts';
import { recipientsFromCsv } from './csv.ts';
import { budget, FailureWindow, type FleetSlots, RateLimiter } from './pacing.ts';
import { type CallRecord, createCall, fetchCall, listCalls, type TwilioAccount } from './twilio-calls.ts';
import { inWindow, nextOpen, zoneOfNumber } from './window.ts';

export const SEND_DEADLINE_MS = 4000;
export const CREATE_TIMEOUT_MS = 4000;
export const RECONCILE_AFTER_MS = 15_000;

/** Everything the dialer needs from outside, resolved by the reconciler (or a test). */
export interface DialerEnv {
  pool: pg.Pool;
  keyring: Keyring;
  twilio: TwilioAccount;
  /** Public base URL of the VoiceAgent's gateways (what Twilio requests and signs). */
  publicBaseUrl: string;
  /** The recipients CSV (read from the Secret once, at import). */
  csv: () => Promise<string>;
  /** VoiceAgent calls.maxDurationSeconds: an in-progress call older than this (+ margin) is fetched. */
  maxCallSeconds: number;
}

export interface CampaignStatusReport {
  phase: 'Pending' | 'Running' | 'Suspended' | 'Waiting' | 'Completed' | 'Failed';
  counts: CampaignCounts;
  done: number;
  eta?: string;
  message: string;
  /** Live attempts (for other campaigns sharing the fleet). */
  live: number;
  inProgress: number;
}

export interface DialerOptions {
  /** `namespace/name/uid`: the campaign's key in the database. */
  id: string;
  log: Logger;
  /** The latest spec (read every tick: suspend takes effect at the next tick). */
  spec: () => CallCampaignSpec | undefined;
  env: () => Promise<DialerEnv>;
  fleet: () => FleetSlots;
  /** Live attempts and in-progress calls of other campaigns on the same fleet. */
  others: () => { live: number; inProgress: number };
  report: (status: CampaignStatusReport) => Promise<void>;
  clock?: () => number;
  tickMs?: number;
  statusMs?: number;
  /** Tests shorten these; the reconcile delay must exceed send deadline + create timeout. */
  timing?: { sendDeadlineMs: number; reconcileAfterMs: number };
}

interface Due {
  idx: number;
  tz: string;
  attempts: number;
  phone_enc: Buffer;
  key_id: string;
}

export class CampaignDialer {
  readonly #o: DialerOptions;
  readonly #clock: () => number;
  #env: DialerEnv | undefined;
  #epoch = 0;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  readonly #limiter = new RateLimiter();
  readonly #sending = new Set<Promise<unknown>>();
  readonly #failures = new FailureWindow();
  #lastStatusAt = 0;
  #lastReconcileAt = 0;
  #dials: number[] = [];
  #last: CampaignStatusReport | undefined;
  #blocked = '';
  #setupError = '';
  #permanent = false;
  #setupAt = 0;

  readonly #sendDeadlineMs: number;
  readonly #reconcileAfterMs: number;

  constructor(o: DialerOptions) {
    this.#o = o;
    this.#clock = o.clock ?? Date.now;
    this.#sendDeadlineMs = o.timing?.sendDeadlineMs ?? SEND_DEADLINE_MS;
    this.#reconcileAfterMs = o.timing?.reconcileAfterMs ?? RECONCILE_AFTER_MS;
    if (this.#reconcileAfterMs <= 2 * this.#sendDeadlineMs)
      throw new Error(
        'reconcileAfterMs must exceed twice the send deadline (no create may still be under way)',
      );
  }

  get live(): number {
    return this.#last?.live ?? 0;
  }
  get inProgress(): number {
    return this.#last?.inProgress ?? 0;
  }
  get epoch(): number {
    return this.#epoch;
  }

  start(): void {
    const loop = async () => {
      if (this.#stopped) return;
      this.#running = this.tick().catch((error) => {
        this.#o.log.warn({ err: String(error) }, 'campaign tick failed');
      });
      await this.#running;
      if (!this.#stopped) this.#timer = setTimeout(loop, this.#o.tickMs ?? 100);
    };
    void loop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
    await Promise.all([...this.#sending]);
  }

  /** One round; public for tests. */
  async tick(): Promise<void> {
    const spec = this.#o.spec();
    if (!spec) return;
    if (!this.#env) {
      // A dependency that is not there yet (caches still filling after a leader change, a MemoryStore
      // being created) is retried every second; a bad recipients CSV waits for a spec change.
      if (Date.now() - this.#setupAt < (this.#permanent ? 5000 : 1000) && this.#setupError) return;
      this.#setupAt = Date.now();
      try {
        await this.#setup(spec);
        this.#setupError = '';
      } catch (error) {
        this.#setupError = (error as Error).message;
        this.#permanent = this.#setupError.startsWith('recipients CSV');
        this.#env = undefined;
        await this.#o.report({
          phase: this.#permanent ? 'Failed' : 'Pending',
          counts: {},
          done: 0,
          message: this.#setupError,
          live: 0,
          inProgress: 0,
        });
        return;
      }
    }
    const env = this.#env as DialerEnv;
    await this.#settle(spec, env);
    if (Date.now() - this.#lastReconcileAt >= 2000) {
      this.#lastReconcileAt = Date.now();
      await this.#reconcileUnknown(spec, env);
    }
    await this.#dial(spec, env);
    if (Date.now() - this.#lastStatusAt >= (this.#o.statusMs ?? 1000)) {
      this.#lastStatusAt = Date.now();
      await this.#status(spec, env);
    }
  }

  async #setup(spec: CallCampaignSpec): Promise<void> {
    const env = await this.#o.env();
    await ensureCampaignSchema(env.pool);
    // A new epoch fences every earlier dialer of this campaign: its attempt records stop committing.
    const r = await env.pool.query<{ epoch: string; imported_at: Date | null }>(
      `INSERT INTO campaign_runs (campaign, epoch) VALUES ($1, 1)
       ON CONFLICT (campaign) DO UPDATE SET epoch = campaign_runs.epoch + 1 RETURNING epoch, imported_at`,
      [this.#o.id],
    );
    this.#epoch = Number(r.rows[0]?.epoch);
    if (!r.rows[0]?.imported_at) {
      const rows = recipientsFromCsv(await env.csv(), spec.recipients, zoneOfNumber, spec.timeZone);
      await importRecipients(env.pool, env.keyring, this.#o.id, rows);
      this.#o.log.info({ recipients: rows.length }, 'recipients imported');
    }
    this.#env = env;
    this.#o.log.info({ epoch: this.#epoch }, 'dialer started');
  }

  /** Finished attempts → the recipient's next state: a retry after backoff, or final. */
  async #settle(spec: CallCampaignSpec, env: DialerEnv): Promise<void> {
    const r = await env.pool.query<{ id: string; idx: number; attempt: number; outcome: Outcome }>(
      `SELECT id, idx, attempt, outcome FROM campaign_attempts
        WHERE campaign = $1 AND state = 'done' AND NOT applied LIMIT 500`,
      [this.#o.id],
    );
    const now = this.#clock();
    for (const a of r.rows) {
      const retry =
        (spec.retry.outcomes as string[]).includes(a.outcome) && a.attempt < spec.retry.maxAttempts;
      const wait = Math.min(spec.retry.backoffSeconds * 2 ** (a.attempt - 1), spec.retry.maxBackoffSeconds);
      const next = retry ? 'pending' : a.outcome;
      await env.pool.query(
        `WITH a AS (UPDATE campaign_attempts SET applied = true WHERE id = $1 AND NOT applied RETURNING id)
         UPDATE campaign_recipients r
            SET state = CASE WHEN EXISTS (SELECT 1 FROM do_not_call d WHERE d.phone_hash = r.phone_hash)
                             THEN 'opted-out' ELSE $4 END,
                next_at = $5, last_outcome = $6,
                phone_enc = CASE WHEN $4 = 'pending' THEN phone_enc ELSE NULL END,
                vars_enc = CASE WHEN $4 = 'pending' THEN vars_enc ELSE NULL END
          WHERE r.campaign = $2 AND r.idx = $3 AND r.state = 'dialing' AND EXISTS (SELECT 1 FROM a)`,
        [a.id, this.#o.id, a.idx, next, new Date(now + wait * 1000), a.outcome],
      );
      this.#failures.push(a.outcome === 'failed');
    }
  }

  /**
   * Attempts whose fate is unknown: recorded without a call sid for longer than any create could take
   * (a crash between record and response, a timeout, a 5xx) → Twilio's Calls list decides: the call
   * exists (bind it) or it never will (void: the recipient is due again with the same attempt number).
   * Live calls silent for too long are fetched.
   */
  async #reconcileUnknown(spec: CallCampaignSpec, env: DialerEnv): Promise<void> {
    const cutoff = new Date(Date.now() - this.#reconcileAfterMs);
    const r = await env.pool.query<{
      id: string;
      idx: number;
      created_at: Date;
      phone_enc: Buffer | null;
      key_id: string;
    }>(
      `SELECT a.id, a.idx, a.created_at, r.phone_enc, r.key_id FROM campaign_attempts a
         JOIN campaign_recipients r ON r.campaign = a.campaign AND r.idx = a.idx
        WHERE a.campaign = $1 AND a.state = 'recorded' AND a.call_sid IS NULL AND a.created_at < $2
        ORDER BY a.created_at LIMIT 50`,
      [this.#o.id, cutoff],
    );
    for (const a of r.rows) {
      if (!a.phone_enc) continue;
      const to = decryptPhone(env.keyring, this.#o.id, a.idx, a.key_id, a.phone_enc);
      const calls = await listCalls(env.twilio, to, spec.callerId, a.created_at);
      const after = Math.floor(a.created_at.getTime() / 1000) * 1000;
      const candidates = calls.filter((c) => c.date_created && Date.parse(c.date_created) >= after);
      const bound = candidates.length
        ? await env.pool.query<{ call_sid: string }>(
            'SELECT call_sid FROM campaign_attempts WHERE call_sid = ANY($1::text[])',
            [candidates.map((c) => c.sid)],
          )
        : { rows: [] };
      const taken = new Set(bound.rows.map((b) => b.call_sid));
      const mine = candidates
        .filter((c) => !taken.has(c.sid))
        .sort((x, y) => Date.parse(x.date_created ?? '') - Date.parse(y.date_created ?? ''))[0];
      if (mine) {
        this.#o.log.info(
          { attempt: a.id, callSid: mine.sid, status: mine.status },
          'in-flight attempt found in Twilio',
        );
        await this.#bind(env, a.id, mine);
      } else {
        this.#o.log.info({ attempt: a.id }, 'attempt never reached Twilio: void, the recipient is due again');
        await env.pool.query(
          `WITH v AS (UPDATE campaign_attempts SET state = 'void', updated_at = now()
                       WHERE id = $1 AND state = 'recorded' AND call_sid IS NULL RETURNING campaign, idx)
           UPDATE campaign_recipients r SET state = 'pending', attempts = attempts - 1
             FROM v WHERE r.campaign = v.campaign AND r.idx = v.idx AND r.state = 'dialing'`,
          [a.id],
        );
      }
    }
    const stale = await env.pool.query<{ id: string; call_sid: string }>(
      `SELECT id, call_sid FROM campaign_attempts
        WHERE campaign = $1 AND call_sid IS NOT NULL AND state IN ('recorded', 'sent', 'ringing', 'in-progress')
          AND updated_at < now() - make_interval(secs => CASE WHEN state = 'in-progress' THEN $2::float8 ELSE $3::float8 END)
        LIMIT 50`,
      [this.#o.id, env.maxCallSeconds + 120, spec.ringTimeoutSeconds + 60],
    );
    for (const a of stale.rows) {
      const call = await fetchCall(env.twilio, a.call_sid);
      if (call) await this.#bind(env, a.id, call);
      else await recordProgress(env.pool, a.id, { callSid: a.call_sid, callStatus: 'failed' });
    }
  }

  async #bind(env: DialerEnv, attemptId: string, call: CallRecord): Promise<void> {
    await env.pool.query(
      `UPDATE campaign_attempts SET call_sid = $2, updated_at = now(),
              state = CASE WHEN state = 'recorded' THEN 'sent' ELSE state END
        WHERE id = $1 AND call_sid IS NULL`,
      [attemptId, call.sid],
    );
    await recordProgress(env.pool, attemptId, {
      callSid: call.sid,
      callStatus: call.status,
      answeredBy: call.answered_by ?? undefined,
    });
  }

  async #dial(spec: CallCampaignSpec, env: DialerEnv): Promise<void> {
    const now = this.#clock();
    if (spec.suspend) {
      this.#blocked = 'suspended';
      return;
    }
    if (spec.startTime && Date.parse(spec.startTime) > now) {
      this.#blocked = 'before startTime';
      return;
    }
    const rate =
      spec.pacing.callsPerSecond * (this.#failures.rate() > spec.pacing.slowDownAboveFailureRate ? 0.5 : 1);
    const live = await env.pool.query<{ live: string; progress: string }>(
      `SELECT count(*) AS live, count(*) FILTER (WHERE state = 'in-progress') AS progress FROM campaign_attempts
        WHERE campaign = $1 AND state IN ('recorded', 'sent', 'ringing', 'in-progress')`,
      [this.#o.id],
    );
    const mine = Number(live.rows[0]?.live ?? 0);
    const others = this.#o.others();
    const b = budget({
      maxConcurrent: spec.pacing.maxConcurrentCalls,
      headroom: spec.pacing.inboundHeadroom,
      live: mine,
      otherLive: others.live,
      liveAtPoll: Number(live.rows[0]?.progress ?? 0) + others.inProgress,
      fleet: this.#o.fleet(),
      tokens: this.#limiter.available(Date.now(), rate),
    });
    this.#blocked = b.reason === 'ok' ? '' : b.reason;
    if (b.allowed <= 0) return;
    const due = await env.pool.query<Due>(
      `SELECT idx, tz, attempts, phone_enc, key_id FROM campaign_recipients
        WHERE campaign = $1 AND state = 'pending' AND next_at <= $2 AND phone_enc IS NOT NULL
        ORDER BY priority DESC, next_at, idx LIMIT $3`,
      [this.#o.id, new Date(now), Math.max(b.allowed * 4, 20)],
    );
    let placed = 0;
    const nowDate = new Date(now);
    for (const r of due.rows) {
      if (placed >= b.allowed || this.#stopped) break;
      if (!inWindow(spec.callingWindow, r.tz, nowDate)) {
        // Outside the recipient's window: not due again until it opens.
        await env.pool.query(
          `UPDATE campaign_recipients SET next_at = $3 WHERE campaign = $1 AND idx = $2 AND state = 'pending'`,
          [this.#o.id, r.idx, nextOpen(spec.callingWindow, r.tz, nowDate)],
        );
        continue;
      }
      if (this.#o.spec()?.suspend) break;
      // Recorded one by one (durable before any request); the creates then go out together.
      const recorded = await this.#record(spec, env, r);
      if (!recorded) break;
      placed++;
      this.#limiter.take(Date.now());
      // Not awaited: the next tick does not wait for Twilio's answers (each create is bounded by the
      // send deadline; recorded attempts count as live, so the concurrency holds meanwhile).
      const send = this.#send(spec, env, r, recorded.id, recorded.createdAt)
        .catch((error) => this.#o.log.warn({ err: String(error) }, 'call create failed'))
        .finally(() => this.#sending.delete(send));
      this.#sending.add(send);
    }
    if (placed === 0 && due.rows.length === 0) this.#blocked = 'nobody due';
  }

  /** The attempt's durable record (fenced by the epoch); undefined when it could not be made. */
  async #record(
    spec: CallCampaignSpec,
    env: DialerEnv,
    r: Due,
  ): Promise<{ id: string; createdAt: number } | undefined> {
    const id = randomUUID();
    const createdAt = Date.now();
    const rec = await env.pool.query<{ attempt: number }>(
      `WITH r AS (
         UPDATE campaign_recipients SET state = 'dialing', attempts = attempts + 1
          WHERE campaign = $1 AND idx = $2 AND state = 'pending'
            AND EXISTS (SELECT 1 FROM campaign_runs WHERE campaign = $1 AND epoch = $3)
          RETURNING attempts)
       INSERT INTO campaign_attempts (id, campaign, idx, attempt, epoch, created_at, opt_out_digit)
       SELECT $4, $1, $2, attempts, $3, $5, $6 FROM r RETURNING attempt`,
      [this.#o.id, r.idx, this.#epoch, id, new Date(createdAt), spec.optOut.dtmfDigit ?? null],
    );
    if (!rec.rows[0]) {
      const fenced = await env.pool.query('SELECT 1 FROM campaign_runs WHERE campaign = $1 AND epoch = $2', [
        this.#o.id,
        this.#epoch,
      ]);
      if (!fenced.rowCount) {
        this.#o.log.warn({ epoch: this.#epoch }, 'a newer dialer took over this campaign; stopping');
        this.#stopped = true;
      }
      return undefined;
    }
    return { id, createdAt };
  }

  async #send(spec: CallCampaignSpec, env: DialerEnv, r: Due, id: string, createdAt: number): Promise<void> {
    // The record is durable; the create may go out only while no reconciler can judge it missing.
    if (Date.now() - createdAt > this.#sendDeadlineMs || this.#stopped) return;
    const base = env.publicBaseUrl.replace(/\/+$/, '');
    const am = spec.answeringMachine;
    const voice = new URLSearchParams({ [ATTEMPT_PARAM]: id });
    if (am.detect) voice.set(VOICEMAIL_PARAM, am.action === 'message' ? (am.voicemailMessage ?? '') : '');
    const to = decryptPhone(env.keyring, this.#o.id, r.idx, r.key_id, r.phone_enc);
    this.#dials.push(Date.now());
    const result = await createCall(
      env.twilio,
      {
        to,
        from: spec.callerId,
        url: `${base}/twilio/voice?${voice}`,
        statusCallback: `${base}/twilio/call-status?${new URLSearchParams({ [ATTEMPT_PARAM]: id })}`,
        timeoutSeconds: spec.ringTimeoutSeconds,
        machineDetection: am.detect,
      },
      Math.max(1, Math.min(CREATE_TIMEOUT_MS, createdAt + this.#sendDeadlineMs - Date.now())),
    );
    if (result.kind === 'created') {
      await env.pool.query(
        `UPDATE campaign_attempts SET call_sid = COALESCE(call_sid, $2), updated_at = now(),
                state = CASE WHEN state = 'recorded' THEN 'sent' ELSE state END
          WHERE id = $1`,
        [id, result.sid],
      );
    } else if (result.kind === 'refused') {
      this.#o.log.info({ attempt: id, status: result.status, code: result.code }, 'Twilio refused the call');
      await env.pool.query(
        `UPDATE campaign_attempts SET state = 'done', outcome = 'failed', twilio_status = 'refused', updated_at = now()
          WHERE id = $1 AND state = 'recorded'`,
        [id],
      );
    } else {
      this.#o.log.warn(
        { attempt: id, error: result.error },
        'call create unanswered; the Calls list decides later',
      );
    }
  }

  async #status(spec: CallCampaignSpec, env: DialerEnv): Promise<void> {
    const rec = await env.pool.query<{ state: string; n: string; left: string }>(
      `SELECT state, count(*) AS n, sum(GREATEST(0, $2 - attempts)) AS left FROM campaign_recipients
        WHERE campaign = $1 GROUP BY state`,
      [this.#o.id, spec.retry.maxAttempts],
    );
    const att = await env.pool.query<{ state: string; n: string }>(
      `SELECT state, count(*) AS n FROM campaign_attempts
        WHERE campaign = $1 AND state IN ('recorded', 'sent', 'ringing', 'in-progress') GROUP BY state`,
      [this.#o.id],
    );
    const by = (state: string) => Number(rec.rows.find((x) => x.state === state)?.n ?? 0);
    const live = (state: string) => Number(att.rows.find((x) => x.state === state)?.n ?? 0);
    const total = rec.rows.reduce((n, x) => n + Number(x.n), 0);
    const pending = by('pending');
    const counts: CampaignCounts = {
      total,
      pending,
      dialing: live('recorded') + live('sent') + live('ringing'),
      inProgress: live('in-progress'),
      completed: by('completed'),
      voicemail: by('voicemail'),
      busy: by('busy'),
      noAnswer: by('no-answer'),
      failed: by('failed'),
      optedOut: by('opted-out'),
      canceled: by('canceled'),
      remainingAttempts: rec.rows
        .filter((x) => x.state === 'pending' || x.state === 'dialing')
        .reduce((n, x) => n + Number(x.left), 0),
    };
    const liveCount = (counts.dialing ?? 0) + (counts.inProgress ?? 0);
    const done = total - pending - by('dialing');
    const now = Date.now();
    this.#dials = this.#dials.filter((t) => now - t < 60_000);
    let eta: string | undefined;
    if (pending + by('dialing') === 0) eta = undefined;
    else if (this.#dials.length >= 2) {
      const perSecond = this.#dials.length / Math.max(1, (now - (this.#dials[0] as number)) / 1000);
      eta = new Date(Math.ceil((now + (pending / perSecond) * 1000) / 10_000) * 10_000).toISOString();
    }
    const complete = total > 0 && pending === 0 && by('dialing') === 0;
    const phase: CampaignStatusReport['phase'] = complete
      ? 'Completed'
      : spec.suspend
        ? 'Suspended'
        : this.#blocked && this.#blocked !== 'rate' && this.#blocked !== 'concurrency' && liveCount === 0
          ? 'Waiting'
          : 'Running';
    const message = complete
      ? `all ${total} recipients final`
      : spec.suspend
        ? 'suspended: no new calls'
        : this.#blocked
          ? `dialing paused: ${this.#blocked}`
          : 'dialing';
    this.#last = {
      phase,
      counts,
      done,
      ...(eta ? { eta } : {}),
      message,
      live: liveCount,
      inProgress: counts.inProgress ?? 0,
    };
    await this.#o.report(this.#last);
  }

  /** Deletion: recipients not yet dialed are canceled; numbers and variables of the campaign are dropped. */
  static async cancel(pool: pg.Pool, id: string): Promise<number> {
    await ensureCampaignSchema(pool);
    const r = await pool.query(
      `UPDATE campaign_recipients SET state = 'canceled' WHERE campaign = $1 AND state = 'pending'`,
      [id],
    );
    await pool.query(
      `UPDATE campaign_recipients SET phone_enc = NULL, vars_enc = NULL WHERE campaign = $1 AND state <> 'dialing'`,
      [id],
    );
    // Fence any dialer still running for it.
    await pool.query('UPDATE campaign_runs SET epoch = epoch + 1 WHERE campaign = $1', [id]);
    return r.rowCount ?? 0;
  }
}
