// Issue 20, outbound campaigns end to end with real processes: the real operator (two replicas
// competing for the lease) runs the CallCampaign's dialer, the process kubelet runs the gateway pods,
// nginx is the front door, a real PostgreSQL is the MemoryStore, the Twilio fake places the calls the
// dialer creates through the gateways with the call simulator. One campaign of CAMPAIGN_RECIPIENTS
// (default 1,000) recipients with mixed outcomes; the leader is SIGKILLed three times (the third
// time the other replica takes over); suspend is toggled; a few recipients wait for their calling
// window (the operators' clock is moved forward through a clock file); inbound calls run beside it.
// Prints wall time vs ideal, the dial pacing, and the operators' peak memory.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { FakeTwilioCalls } from '../fakes/twilio-calls.ts';
import { FakeTwilioRest } from '../fakes/twilio-rest.ts';
import { type Fleet, startFleetEnvironment } from '../support/fleet.ts';
import { kubectlOk, waitForCrdsEstablished } from '../support/kube-helpers.ts';
import { type OperatorProcess, startOperator } from '../support/operator.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { waitFor } from '../support/processes.ts';
import { zoneAtHour } from '../support/time-zones.ts';
import { type Agent, echoVoiceAgent, startAgent, stopAgent, TWILIO_ACCOUNT_SID } from './agents.ts';
import { CallLoad } from './call-load.ts';
import { gatewayStatus } from './gateway-pods.ts';

const root = new URL('../../', import.meta.url).pathname;
const RECIPIENTS = Number(process.env.CAMPAIGN_RECIPIENTS ?? 1000);
const WINDOW_RECIPIENTS = 10;
const AUTH_TOKEN = 'campaign-auth-token';
const CALLER_ID = '+14155550100';
const CONCURRENCY = 20;
// Twice what the campaign and the inbound calls need: nginx balances webhooks round robin, not by free slots.
const PER_POD = 20;
const PODS = 2;
const HEADROOM = 4;
const TALK_MIN_MS = 1000;
const TALK_MAX_MS = 2000;
const ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64');

type Plan = {
  kinds: ('answered' | 'busy' | 'no-answer' | 'machine' | 'failed')[];
  state: string;
  attempts: number;
};
/** By recipient index: what each attempt meets, the final state and the attempt count expected. */
function plan(i: number): Plan {
  switch (i % 10) {
    case 6:
      return { kinds: ['busy', 'answered'], state: 'completed', attempts: 2 };
    case 7:
      return { kinds: ['no-answer', 'no-answer', 'no-answer'], state: 'no-answer', attempts: 3 };
    case 8:
      return { kinds: ['machine'], state: 'voicemail', attempts: 1 };
    case 9:
      return { kinds: ['failed', 'failed', 'failed'], state: 'failed', attempts: 3 };
    default:
      return { kinds: ['answered'], state: 'completed', attempts: 1 };
  }
}
const phone = (i: number) => `+1555${String(3000000 + i).padStart(7, '0')}`;
const indexOf = new Map<string, number>();

function peakRss(pid: number | undefined): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

let fleet: Fleet;
let postgres: TestPostgres;
let rest: FakeTwilioRest;
let calls: FakeTwilioCalls;
let agent: Agent;
const operators: Record<'a' | 'b', OperatorProcess | undefined> = { a: undefined, b: undefined };
const peakMb: number[] = [];
let clockFile = '';

async function startOp(which: 'a' | 'b'): Promise<OperatorProcess> {
  const op = await startOperator(
    fleet.cluster,
    ['--call-poll=1', `--campaign-clock-file=${clockFile}`],
    `operator-${which}`,
    { env: { POD_NAME: `operator-${which}` } },
  );
  operators[which] = op;
  return op;
}

async function kill(which: 'a' | 'b'): Promise<void> {
  const op = operators[which];
  peakMb.push(peakRss(op?.process.child.pid));
  await op?.kill();
  operators[which] = undefined;
}

async function leader(): Promise<'a' | 'b' | undefined> {
  const lease = JSON.parse(
    await kubectlOk(fleet.cluster, ['get', 'lease', '-n', 'default', 'callfleet-operator', '-o', 'json']),
  ) as { spec?: { holderIdentity?: string } };
  const id = lease.spec?.holderIdentity;
  return id === 'operator-a' ? 'a' : id === 'operator-b' ? 'b' : undefined;
}

describe('outbound campaign [e2e, issue 20]', { timeout: 900_000 }, () => {
  before(async () => {
    clockFile = join(mkdtempSync(join(tmpdir(), 'callfleet-campaign-')), 'clock-offset');
    writeFileSync(clockFile, '0');
    postgres = await startPostgres();
    rest = new FakeTwilioRest(TWILIO_ACCOUNT_SID, AUTH_TOKEN);
    const restUrl = await rest.start();
    fleet = await startFleetEnvironment({ processNodes: 2, restartBackoffMs: 1000 });
    await kubectlOk(fleet.cluster, ['apply', '--server-side', '-f', `${root}crds`]);
    await waitForCrdsEstablished(
      fleet.cluster,
      ['voiceagents.callfleet.io', 'memorystores.callfleet.io', 'callcampaigns.callfleet.io'],
      30_000,
    );
    await startOp('a');
    await waitFor('operator-a leads', async () => (await leader()) === 'a', 30_000, 250);
    await startOp('b');
    const va = echoVoiceAgent('campaign', {
      replicas: PODS,
      calls: { maxConcurrentPerPod: PER_POD, maxDurationSeconds: 60, silenceTimeoutSeconds: 30 },
      drain: { gracePeriodSeconds: 90, preStopSeconds: 1 },
      memory: { storeRef: { name: 'callers' } },
    });
    (va.spec.telephony as { twilio: Record<string, unknown> }).twilio.apiBaseUrl = restUrl;
    agent = await startAgent(fleet, va, {
      authToken: AUTH_TOKEN,
      secrets: { db: { url: postgres.url }, enc: { key: ENCRYPTION_KEY } },
      dependencies: [
        {
          apiVersion: 'callfleet.io/v1alpha1',
          kind: 'MemoryStore',
          metadata: { name: 'callers' },
          spec: {
            engine: 'external',
            external: { connectionSecretRef: { name: 'db', key: 'url' } },
            encryption: { keySecretRef: { name: 'enc', key: 'key' } },
          },
        },
      ],
    });
    calls = new FakeTwilioCalls({
      accountSid: TWILIO_ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      route: (url) =>
        url.startsWith(agent.target.publicBaseUrl)
          ? { gatewayUrl: agent.door.url, publicBaseUrl: agent.target.publicBaseUrl }
          : undefined,
      outcome: (to, n) => {
        const i = indexOf.get(to) ?? 0;
        const kind = plan(i).kinds[n - 1] ?? 'answered';
        return { kind, talkMs: TALK_MIN_MS + ((i * 37) % (TALK_MAX_MS - TALK_MIN_MS)) };
      },
      ringMs: 150,
    });
    rest.calls = calls;
  });

  after(async () => {
    for (const which of ['a', 'b'] as const) {
      peakMb.push(peakRss(operators[which]?.process.child.pid));
      await operators[which]?.stop();
    }
    if (calls) await calls.settle();
    if (agent) await stopAgent(fleet, agent, 60_000).catch(() => {});
    await fleet?.stop();
    await rest?.stop();
    await postgres?.destroy();
  });

  it(`${RECIPIENTS} recipients, mixed outcomes, 3 SIGKILLs and a leader change, suspend, a calling window: every recipient final, none dialed twice`, async () => {
    const midday = zoneAtHour(12);
    const early = zoneAtHour(6);
    const rows = ['phone,first_name,timezone'];
    for (let i = 0; i < RECIPIENTS + WINDOW_RECIPIENTS; i++) {
      indexOf.set(phone(i), i);
      rows.push(`${phone(i)},Name${i},${i >= RECIPIENTS ? early : midday}`);
    }
    const csvFile = join(clockFile, '..', 'recipients.csv');
    writeFileSync(csvFile, `${rows.join('\n')}\n`);
    await kubectlOk(fleet.cluster, [
      'create',
      'secret',
      'generic',
      'recipients',
      '-n',
      agent.ns,
      `--from-file=csv=${csvFile}`,
    ]);
    const campaign = {
      apiVersion: 'callfleet.io/v1alpha1',
      kind: 'CallCampaign',
      metadata: { name: 'renewals' },
      spec: {
        voiceAgentRef: { name: agent.name },
        callerId: CALLER_ID,
        recipients: { csvSecretRef: { name: 'recipients', key: 'csv' } },
        pacing: { maxConcurrentCalls: CONCURRENCY, callsPerSecond: 30, inboundHeadroom: HEADROOM },
        retry: { maxAttempts: 3, backoffSeconds: 1, maxBackoffSeconds: 2 },
        answeringMachine: { detect: true, action: 'message', voicemailMessage: 'Sorry we missed you.' },
        ringTimeoutSeconds: 20,
      },
    };

    // Watch the fleet's pods: no pod ever carries more calls than its capacity.
    let watching = true;
    let peakPodCalls = 0;
    let overCapacity = 0;
    const podWatch = (async () => {
      while (watching) {
        for (const pod of await agent.pods.list().catch(() => [])) {
          const s = await gatewayStatus(pod);
          if (!s) continue;
          peakPodCalls = Math.max(peakPodCalls, s.activeCalls);
          if (s.activeCalls > s.capacity) overCapacity++;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();

    const t0 = performance.now();
    const startedAt = Date.now();
    await kubectlOk(fleet.cluster, ['apply', '-n', agent.ns, '-f', '-'], JSON.stringify(campaign));
    const campaignCalls = () => calls.calls.filter((c) => indexOf.has(c.to));
    const progress = () => campaignCalls().length;
    const totalAttempts = Array.from({ length: RECIPIENTS }, (_, i) => plan(i).attempts).reduce(
      (a, b) => a + b,
      0,
    );

    // Inbound calls beside the campaign: every one must be answered.
    const inbound = new CallLoad(agent.target);
    const inboundDone = (async () => {
      await waitFor('campaign dialing', async () => progress() > 50, 120_000, 200);
      await inbound.place({
        count: 24,
        minMs: 3000,
        maxMs: 4000,
        rampMs: 40_000,
        audio: 'dtmf',
        label: 'inbound',
      });
      await inbound.settle(60_000);
    })();

    // Three SIGKILLs of the leader: the first two restart it at once (same identity: it takes its lease
    // back), the third leaves it dead so the other replica takes over (the leader changes).
    const events: string[] = [];
    for (const [n, fraction] of [
      [1, 0.15],
      [2, 0.3],
      [3, 0.45],
    ] as const) {
      await waitFor(
        `${fraction * 100}% of the attempts placed`,
        async () => progress() >= totalAttempts * fraction,
        300_000,
        100,
      );
      const who = (await leader()) ?? 'a';
      await kill(who);
      events.push(`kill ${n} (${who}) at ${progress()} calls`);
      if (n < 3) await startOp(who);
    }
    const previous = events.at(-1)?.includes('(a)') ? 'a' : 'b';
    const next = previous === 'a' ? 'b' : 'a';
    await waitFor('the other replica leads', async () => (await leader()) === next, 60_000, 250);
    events.push(`leader is now operator-${next}`);
    await startOp(previous);

    // Suspend: no new dial within a second; resume continues exactly.
    await waitFor('60% of the attempts placed', async () => progress() >= totalAttempts * 0.6, 300_000, 100);
    const patch = (suspend: boolean) =>
      kubectlOk(fleet.cluster, [
        'patch',
        '-n',
        agent.ns,
        'ccamp',
        'renewals',
        '--type=merge',
        '-p',
        JSON.stringify({ spec: { suspend } }),
      ]);
    const lastCreate = () => Math.max(0, ...campaignCalls().map((c) => c.createdAt));
    await waitFor('dialing right now', async () => Date.now() - lastCreate() < 200, 60_000, 20);
    await patch(true);
    const suspendedAt = Date.now();
    await new Promise((r) => setTimeout(r, 3000));
    const lastDialAfterSuspend = lastCreate() - suspendedAt;
    const duringSuspend = progress();
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(progress(), duringSuspend, 'no call placed while suspended');
    assert.ok(
      lastDialAfterSuspend < 1000,
      `last dial ${lastDialAfterSuspend} ms after suspend (must be < 1 s)`,
    );
    await patch(false);
    const resumedAt = Date.now();
    await waitFor('dialing resumed', async () => progress() > duringSuspend, 30_000, 100);
    events.push(
      `suspended ${Date.now() - resumedAt} ms to the first dial after resume; last dial ${lastDialAfterSuspend} ms after suspend`,
    );

    // Everyone in their window is final; the early recipients were not dialed (their window is closed).
    const db = new pg.Client({ connectionString: postgres.url });
    await db.connect();
    const states = async () =>
      (
        await db.query<{ idx: number; state: string; attempts: number }>(
          `SELECT r.idx, r.state, r.attempts FROM campaign_recipients r
             JOIN campaign_runs c ON c.campaign = r.campaign WHERE r.campaign LIKE $1 ORDER BY r.idx`,
          [`${agent.ns}/renewals/%`],
        )
      ).rows;
    await waitFor(
      'every recipient in their window final',
      async () =>
        (await states())
          .filter((r) => r.idx < RECIPIENTS)
          .every((r) => !['pending', 'dialing'].includes(r.state)),
      600_000,
      500,
    );
    const campaignWall = (performance.now() - t0) / 1000;
    const early0 = campaignCalls().filter((c) => (indexOf.get(c.to) ?? 0) >= RECIPIENTS);
    assert.equal(early0.length, 0, 'recipients outside their calling window were not dialed');

    // Move the operators' clock to 08:00 in the early zone: their window opens, they are dialed.
    const local = new Date(new Date().toLocaleString('en-US', { timeZone: early }));
    const toEight = ((8 - local.getHours()) * 60 - local.getMinutes()) * 60_000 + 5_000;
    const openedAt = Date.now();
    writeFileSync(clockFile, String(toEight));
    await waitFor(
      'the early recipients final after their window opened',
      async () =>
        (await states())
          .filter((r) => r.idx >= RECIPIENTS)
          .every(
            (r) =>
              r.state === 'completed' ||
              r.state === 'no-answer' ||
              r.state === 'failed' ||
              r.state === 'voicemail',
          ),
      120_000,
      500,
    );
    const windowDials = campaignCalls().filter((c) => (indexOf.get(c.to) ?? 0) >= RECIPIENTS);
    assert.ok(windowDials.length >= WINDOW_RECIPIENTS && windowDials.every((c) => c.createdAt >= openedAt));

    watching = false;
    await podWatch;
    await inboundDone;
    await calls.settle();

    // Every recipient in the right final state with the right number of attempts.
    const final = await states();
    const wrong = final
      .filter((r) => r.state !== plan(r.idx).state || r.attempts !== plan(r.idx).attempts)
      .slice(0, 5)
      .map((r) => `#${r.idx}: ${r.state}/${r.attempts}, want ${plan(r.idx).state}/${plan(r.idx).attempts}`);
    assert.equal(final.length, RECIPIENTS + WINDOW_RECIPIENTS);
    assert.deepEqual(wrong, []);

    // 0 recipients dialed twice for the same attempt: one call per attempt id, and each number was
    // called exactly as often as its attempts.
    const perAttempt = new Map<string, number>();
    for (const c of campaignCalls())
      perAttempt.set(c.attemptId ?? 'none', (perAttempt.get(c.attemptId ?? 'none') ?? 0) + 1);
    const twice = [...perAttempt.values()].filter((n) => n > 1).length;
    const perNumber = new Map<string, number>();
    for (const c of campaignCalls()) perNumber.set(c.to, (perNumber.get(c.to) ?? 0) + 1);
    const overDialed = [...perNumber.entries()].filter(
      ([to, n]) => n > plan(indexOf.get(to) ?? 0).attempts,
    ).length;
    const attempts = await db.query<{ id: string; call_sid: string | null; state: string }>(
      `SELECT id, call_sid, state FROM campaign_attempts WHERE campaign LIKE $1`,
      [`${agent.ns}/renewals/%`],
    );
    const voided = attempts.rows.filter((a) => a.state === 'void').length;
    const unbound = attempts.rows.filter((a) => a.state !== 'void' && !a.call_sid).length;
    await db.end();

    // Capacity and concurrency: the fake's peak of live calls, the pods' reports.
    const answeredByFallback = campaignCalls().filter((c) => c.answer === 'fallback').length;
    // Webhook or stream failures of the simulated call (not a full fleet): on a machine loaded by the
    // whole suite a few time out; the dialer records them failed and retries them like Twilio's.
    const refused = campaignCalls().filter((c) => c.answer === 'refused').length;
    const inboundSummary = inbound.summary();
    const creates = campaignCalls()
      .map((c) => c.createdAt)
      .sort((a, b) => a - b);
    const perSecond = new Map<number, number>();
    for (const t of creates)
      perSecond.set(Math.floor(t / 1000), (perSecond.get(Math.floor(t / 1000)) ?? 0) + 1);
    const busiest = Math.max(...perSecond.values());
    // Dials per 10 s from the first one: where the wall time went (kills, the leader change, suspend, retries).
    const buckets: number[] = [];
    for (const t of creates) {
      const b = Math.floor((t - (creates[0] ?? 0)) / 10_000);
      buckets[b] = (buckets[b] ?? 0) + 1;
    }
    const timeline = Array.from(buckets, (n) => n ?? 0).join(' ');
    const meanRate = creates.length / (((creates.at(-1) ?? 0) - (creates[0] ?? 0)) / 1000 || 1);
    const ideal = (RECIPIENTS * ((TALK_MIN_MS + TALK_MAX_MS) / 2 / 1000)) / CONCURRENCY;
    const status = JSON.parse(
      await kubectlOk(fleet.cluster, ['get', 'ccamp', 'renewals', '-n', agent.ns, '-o', 'json']),
    ) as { status?: { phase?: string; counts?: Record<string, number> } };
    for (const which of ['a', 'b'] as const) peakMb.push(peakRss(operators[which]?.process.child.pid));
    console.log(
      `[campaign] ${RECIPIENTS} recipients (+${WINDOW_RECIPIENTS} waiting for their window): ${campaignCalls().length} calls for ${totalAttempts + windowDials.length} attempts, ` +
        `${twice} attempts dialed twice, ${overDialed} numbers over-dialed, ${voided} void attempts re-dialed, ${unbound} attempts without a call; ` +
        `wall ${campaignWall.toFixed(1)} s vs ideal ${ideal.toFixed(1)} s (${RECIPIENTS} × ${((TALK_MIN_MS + TALK_MAX_MS) / 2000).toFixed(1)} s / ${CONCURRENCY}), ` +
        `ratio ${(campaignWall / ideal).toFixed(2)} (includes 3 kills, a leader change, 5 s suspended); ` +
        `pacing mean ${meanRate.toFixed(1)} calls/s, busiest second ${busiest} (limit 30/s), dials per 10 s: ${timeline}; ` +
        `peak live campaign calls ${calls.maxLive} (limit ${CONCURRENCY}), peak streams ${calls.maxStreaming}, peak calls on one pod ${peakPodCalls} (capacity ${PER_POD}); ` +
        `inbound ${inboundSummary.placed} placed, ${inboundSummary.answered} answered; ` +
        `peak operator memory ${Math.max(...peakMb).toFixed(0)} MiB; ${events.join('; ')}; status ${JSON.stringify(status.status?.counts)}; started ${new Date(startedAt).toISOString()}`,
    );
    assert.equal(twice, 0, 'no attempt dialed twice');
    assert.equal(overDialed, 0, 'no number called more often than its attempts');
    assert.equal(unbound, 0);
    assert.ok(calls.maxLive <= CONCURRENCY, `peak live campaign calls ${calls.maxLive} > ${CONCURRENCY}`);
    assert.equal(overCapacity, 0, 'no pod above its capacity');
    console.log(`[campaign] calls answered by the fallback ${answeredByFallback}, refused ${refused}`);
    assert.ok(
      answeredByFallback + refused <= Math.ceil(campaignCalls().length * 0.01),
      `campaign calls that met the fallback (${answeredByFallback}) or failed to connect (${refused}): at most 1 %`,
    );
    assert.equal(
      inboundSummary.unanswered,
      0,
      `inbound calls all answered: ${inbound.failures().join(' | ')}`,
    );
    assert.ok(busiest <= 31, `busiest second ${busiest} calls`);
    await waitFor(
      'status Completed with the counts',
      async () => {
        const s = JSON.parse(
          await kubectlOk(fleet.cluster, ['get', 'ccamp', 'renewals', '-n', agent.ns, '-o', 'json']),
        ) as {
          status?: { phase?: string; counts?: Record<string, number> };
        };
        return s.status?.phase === 'Completed' && s.status.counts?.total === RECIPIENTS + WINDOW_RECIPIENTS;
      },
      30_000,
      500,
    );
  });
});
