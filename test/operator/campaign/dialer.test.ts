// The dialer against a real PostgreSQL, the Twilio Calls fake and a real in-process gateway (echo
// backend): outcomes and retries, calling windows on an injected clock, suspend within a tick, lost
// create responses reconciled against the Calls list, and a newer dialer fencing an older one.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CallCampaignSpec } from '../../../cdk8s/api/v1alpha1/callcampaign.ts';
import { CallCampaignSpecSchema } from '../../../cdk8s/api/v1alpha1/callcampaign.ts';
import { CampaignDialer, type CampaignStatusReport } from '../../../operator/campaign/dialer.ts';
import { createCampaignHooks } from '../../../voice-gateway/campaign/gateway-hooks.ts';
import { addDoNotCall } from '../../../voice-gateway/campaign/recipients.ts';
import { generateKeySpec, parseKeyring } from '../../../voice-gateway/memory/store/crypto.ts';
import { createPool } from '../../../voice-gateway/memory/store/pool.ts';
import { type CallOutcome, FakeTwilioCalls } from '../../fakes/twilio-calls.ts';
import { startPostgres, type TestPostgres } from '../../support/postgres.ts';
import { zoneAtHour } from '../../support/time-zones.ts';
import {
  ACCOUNT_SID,
  AUTH_TOKEN,
  PUBLIC_BASE_URL,
  startGateway,
  type TestGateway,
} from '../../voice-gateway/helpers.ts';

const silent = {
  info() {},
  warn() {},
  error() {},
  debug() {},
  child() {
    return silent;
  },
} as never;
const keyring = parseKeyring(generateKeySpec());
const CALLER_ID = '+14155550100';

let pg: TestPostgres;
let pool: ReturnType<typeof createPool>;
let gw: TestGateway;
let fake: FakeTwilioCalls;
const outcomes = new Map<string, CallOutcome[]>();

function spec(extra: Record<string, unknown> = {}): CallCampaignSpec {
  return CallCampaignSpecSchema.parse({
    voiceAgentRef: { name: 'agent' },
    callerId: CALLER_ID,
    recipients: { csvSecretRef: { name: 'r', key: 'csv' } },
    pacing: { maxConcurrentCalls: 5, callsPerSecond: 50, inboundHeadroom: 0 },
    retry: { maxAttempts: 3, backoffSeconds: 1, maxBackoffSeconds: 1 },
    // Recipients without a zone fall back to this one: midday now, so the default 08:00-21:00 window
    // is open whatever time the suite runs.
    timeZone: zoneAtHour(12),
    ...extra,
  });
}

const phone = (i: number) => `+1555${String(2000000 + i).padStart(7, '0')}`;

interface Run {
  dialer: CampaignDialer;
  reports: CampaignStatusReport[];
  current: { spec: CallCampaignSpec };
}

function dialer(id: string, csv: string, s: CallCampaignSpec, clock: () => number = Date.now): Run {
  const reports: CampaignStatusReport[] = [];
  const current = { spec: s };
  const d = new CampaignDialer({
    id,
    log: silent,
    spec: () => current.spec,
    env: async () => ({
      pool,
      keyring,
      twilio: { accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, baseUrl: restUrl },
      publicBaseUrl: PUBLIC_BASE_URL,
      csv: async () => csv,
      maxCallSeconds: 60,
    }),
    fleet: () => ({ capacity: 20, active: fake.streaming, fresh: true }),
    others: () => ({ live: 0, inProgress: 0 }),
    report: async (r) => {
      reports.push(r);
    },
    clock,
    tickMs: 20,
    statusMs: 100,
    timing: { sendDeadlineMs: 300, reconcileAfterMs: 1000 },
  });
  return { dialer: d, reports, current };
}

let restUrl = '';

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 20_000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function recipients(id: string) {
  return (
    await pool.query<{ idx: number; state: string; attempts: number }>(
      'SELECT idx, state, attempts FROM campaign_recipients WHERE campaign = $1 ORDER BY idx',
      [id],
    )
  ).rows;
}

describe('campaign dialer (real PostgreSQL, Twilio Calls fake, in-process gateway)', {
  timeout: 120_000,
}, () => {
  before(async () => {
    pg = await startPostgres();
    pool = createPool(pg.url, { max: 8 });
    const hooks = createCampaignHooks(pool, keyring);
    gw = await startGateway({ calls: { maxConcurrentPerPod: 50 } } as never, { campaigns: hooks });
    fake = new FakeTwilioCalls({
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      route: (url) =>
        url.startsWith(PUBLIC_BASE_URL) ? { gatewayUrl: gw.url, publicBaseUrl: PUBLIC_BASE_URL } : undefined,
      outcome: (to, n) => ({ kind: outcomes.get(to)?.[n - 1] ?? 'answered', talkMs: 300 }),
      ringMs: 50,
    });
    gw.rest.calls = fake;
    restUrl = `http://127.0.0.1:${(gw.rest.server.address() as { port: number }).port}`;
  });

  after(async () => {
    await fake?.settle();
    await gw?.close();
    await pool?.end();
    await pg?.destroy();
  });

  it('dials every recipient once per attempt; busy / no-answer / failed are retried, voicemail and answered are final', async () => {
    const id = 'ns/outcomes/u1';
    const rows = ['phone,first_name'];
    const plan: CallOutcome[][] = [
      ['answered'],
      ['busy', 'answered'],
      ['no-answer', 'no-answer', 'no-answer'],
      ['machine'],
      ['failed', 'failed', 'failed'],
      ['busy', 'failed', 'answered'],
    ];
    plan.forEach((p, i) => {
      rows.push(`${phone(100 + i)},Name${i}`);
      outcomes.set(phone(100 + i), p);
    });
    const run = dialer(id, rows.join('\n'), spec());
    run.dialer.start();
    await until('campaign completed', () => run.reports.at(-1)?.phase === 'Completed');
    await run.dialer.stop();
    const final = await recipients(id);
    assert.deepEqual(
      final.map((r) => [r.state, r.attempts]),
      [
        ['completed', 1],
        ['completed', 2],
        ['no-answer', 3],
        ['voicemail', 1],
        ['failed', 3],
        ['completed', 3],
      ],
    );
    const mine = fake.calls.filter((c) => c.to.startsWith('+1555200010'));
    const perAttempt = new Map<string, number>();
    for (const c of mine) perAttempt.set(c.attemptId ?? '', (perAttempt.get(c.attemptId ?? '') ?? 0) + 1);
    assert.ok(
      [...perAttempt.values()].every((n) => n === 1),
      'no attempt id dialed twice',
    );
    assert.equal(mine.length, 1 + 2 + 3 + 1 + 3 + 3);
    // The machine got the hang-up TwiML, people got the stream, callbacks were accepted (signed).
    assert.equal(mine.find((c) => c.to === phone(103))?.answer, 'hangup');
    assert.ok(mine.filter((c) => c.outcome === 'answered').every((c) => c.answer === 'stream'));
    assert.ok(
      mine.every((c) => c.callbacks.every((cb) => cb.http === 204)),
      JSON.stringify(mine.map((c) => c.callbacks)),
    );
    const last = run.reports.at(-1) as CampaignStatusReport;
    assert.equal(last.counts.total, 6);
    assert.equal(last.counts.completed, 3);
    assert.equal(last.counts.remainingAttempts, 0);
  });

  it('a recipient outside their calling window is not dialed until it opens (injected clock)', async () => {
    const id = 'ns/window/u1';
    // 2026-01-05 is a Monday. 06:00 in New York = 11:00 UTC: outside 08:00–21:00 there, inside in London.
    let now = Date.parse('2026-01-05T11:00:00Z');
    const csv = `phone,timezone\n${phone(200)},America/New_York\n${phone(201)},Europe/London\n`;
    const run = dialer(id, csv, spec(), () => now);
    run.dialer.start();
    await until('London dialed', () => fake.calls.some((c) => c.to === phone(201)));
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(!fake.calls.some((c) => c.to === phone(200)), 'New York (06:00 local) not dialed');
    now = Date.parse('2026-01-05T12:59:00Z'); // 07:59 in New York
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(!fake.calls.some((c) => c.to === phone(200)), 'still not at 07:59 local');
    now = Date.parse('2026-01-05T13:00:00Z'); // 08:00 in New York: the window opens
    await until(
      'New York dialed once its window opened',
      () => fake.calls.some((c) => c.to === phone(200)),
      5000,
    );
    await until('completed', () => run.reports.at(-1)?.phase === 'Completed');
    await run.dialer.stop();
  });

  it('suspend stops new dials within a tick and resume continues where it stopped', async () => {
    const id = 'ns/suspend/u1';
    const csv = ['phone', ...Array.from({ length: 40 }, (_, i) => phone(300 + i))].join('\n');
    const run = dialer(
      id,
      csv,
      spec({ pacing: { maxConcurrentCalls: 3, callsPerSecond: 10, inboundHeadroom: 0 } }),
    );
    run.dialer.start();
    await until('some dialed', () => fake.calls.filter((c) => c.to.startsWith('+155520003')).length >= 5);
    run.current.spec = { ...run.current.spec, suspend: true };
    const suspendedAt = Date.now();
    await new Promise((r) => setTimeout(r, 1500));
    const campaignCalls = () => fake.calls.filter((c) => /^\+155520003[0-3]/.test(c.to));
    const lastCreate = Math.max(...campaignCalls().map((c) => c.createdAt));
    assert.ok(lastCreate - suspendedAt < 1000, `last dial ${lastCreate - suspendedAt} ms after suspend`);
    const before = campaignCalls().length;
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(campaignCalls().length, before, 'no dial while suspended');
    run.current.spec = { ...run.current.spec, suspend: false };
    await until('completed after resume', () => run.reports.at(-1)?.phase === 'Completed', 30_000);
    await run.dialer.stop();
    const final = await recipients(id);
    assert.ok(
      final.every((r) => r.state === 'completed' && r.attempts === 1),
      'each recipient dialed exactly once',
    );
    assert.equal(campaignCalls().length, 40);
  });

  it('lost create responses are bound from the Calls list; a void attempt is retried with the same number', async () => {
    const id = 'ns/lost/u1';
    const csv = ['phone', ...Array.from({ length: 12 }, (_, i) => phone(400 + i))].join('\n');
    fake.loseResponseEvery = 3;
    fake.refuseCreateEvery = 4;
    const refusedBefore = fake.refusedCreates;
    const run = dialer(id, csv, spec());
    run.dialer.start();
    await until('completed', () => run.reports.at(-1)?.phase === 'Completed', 30_000);
    await run.dialer.stop();
    fake.loseResponseEvery = 0;
    fake.refuseCreateEvery = 0;
    assert.ok(
      fake.refusedCreates > refusedBefore,
      'some creates were refused (the attempt never reached Twilio)',
    );
    const calls = fake.calls.filter((c) => /^\+155520004(0|1)/.test(c.to));
    assert.equal(
      calls.length,
      12,
      'each recipient called exactly once although a third of the responses were lost',
    );
    const final = await recipients(id);
    assert.ok(final.every((r) => r.state === 'completed' && r.attempts === 1));
  });

  it('a newer dialer fences the older one; do-not-call recipients are never dialed', async () => {
    const id = 'ns/fence/u1';
    await addDoNotCall(pool, keyring, phone(501), 'agent').catch(async () => {
      // the tables exist once a dialer ran
    });
    const csv = ['phone', ...Array.from({ length: 6 }, (_, i) => phone(500 + i))].join('\n');
    const old = dialer(id, csv, spec({ suspend: true }));
    await old.dialer.tick();
    const fresh = dialer(id, csv, spec({ suspend: true }));
    await fresh.dialer.tick();
    assert.ok(fresh.dialer.epoch > old.dialer.epoch);
    old.current.spec = { ...old.current.spec, suspend: false };
    await old.dialer.tick();
    assert.equal(
      fake.calls.filter((c) => /^\+155520005/.test(c.to)).length,
      0,
      'the fenced dialer placed no call',
    );
    fresh.current.spec = { ...fresh.current.spec, suspend: false };
    fresh.dialer.start();
    await until('completed', () => fresh.reports.at(-1)?.phase === 'Completed');
    await fresh.dialer.stop();
    const calls = fake.calls.filter((c) => /^\+155520005/.test(c.to));
    assert.equal(calls.length, 5);
    assert.ok(!calls.some((c) => c.to === phone(501)), 'the do-not-call number was skipped');
    const final = await recipients(id);
    assert.equal(final.find((r) => r.idx === 1)?.state, 'opted-out');
  });
});
