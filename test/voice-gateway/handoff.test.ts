// Live-call hand-off (drain.handoff) through REAL gateway processes: two gateways behind a readiness-aware
// balancer, a real PostgreSQL as the MemoryStore, the fake ElevenLabs and the fake Twilio REST (whose call
// update ends the stream and makes the simulated call follow the new <Connect><Stream>). SIGTERM on the
// first gateway with a 2 s hand-off deadline: its calls continue on the second, no greeting is repeated,
// the new ElevenLabs conversation gets the earlier transcript, the gap is measured. A failing Twilio REST
// update or a gateway without caller memory falls back to plain draining.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { createPool } from '../../voice-gateway/memory/store/pool.ts';
import { FakeElevenLabs } from '../fakes/elevenlabs.ts';
import { FakeTwilioRest } from '../fakes/twilio-rest.ts';
import { type CallResult, speechPattern, startCall } from '../simulator/call.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { type Managed, startProcess, waitFor } from '../support/processes.ts';
import { ReadyBalancer } from './balancer.ts';
import { ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL, STREAM_KEY } from './helpers.ts';
import { KEY_SPEC } from './memory/harness.ts';

const root = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'callfleet-handoff-'));

interface Gw {
  name: string;
  url: string;
  internalUrl: string;
  proc: Managed;
  log(): string;
  metric(name: string, labels?: string): Promise<number>;
}

let db: TestPostgres;
let pool: pg.Pool;
let el: FakeElevenLabs;
let rest: FakeTwilioRest;
let restUrl: string;
let elUrl: string;

async function spawnGateway(name: string, opts: { memory: boolean; deadline?: number }): Promise<Gw> {
  const file = join(dir, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      publicBaseUrl: PUBLIC_BASE_URL,
      agent: { provider: 'elevenlabs', elevenlabs: { agentId: 'agent_handoff', baseUrl: elUrl } },
      calls: { silenceTimeoutSeconds: 60 },
      drain: { gracePeriodSeconds: 30, handoff: { enabled: true, deadlineSeconds: opts.deadline ?? 2 } },
      ...(opts.memory ? { memory: { enabled: true, healthCheckSeconds: 0.3 } } : {}),
    }),
  );
  const logFile = join(dir, `${name}.log`);
  const proc = startProcess(name, process.execPath, [join(root, 'bin/callfleet.ts'), 'gateway'], logFile, {
    env: {
      CALLFLEET_GATEWAY_CONFIG: file,
      PORT: '0',
      CALLFLEET_INTERNAL_PORT: '0',
      HOST: '127.0.0.1',
      HOSTNAME: name,
      LOG_LEVEL: 'info',
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      CALLFLEET_STREAM_KEY: STREAM_KEY,
      TWILIO_ACCOUNT_SID: ACCOUNT_SID,
      TWILIO_API_BASE_URL: restUrl,
      ...(opts.memory ? { CALLFLEET_MEMORY_URL: db.url, CALLFLEET_ENCRYPTION_KEY: KEY_SPEC } : {}),
    },
  });
  const log = () => readFileSync(logFile, 'utf8');
  let port = 0;
  let internalPort = 0;
  await waitFor(
    `gateway ${name} to listen`,
    async () => {
      if (proc.child.exitCode !== null) throw new Error(log());
      port = Number(/"port":(\d+)/.exec(log())?.[1] ?? 0);
      internalPort = Number(/"internalPort":(\d+)/.exec(log())?.[1] ?? 0);
      return port > 0;
    },
    20_000,
    50,
  );
  const url = `http://127.0.0.1:${port}`;
  const internalUrl = `http://127.0.0.1:${internalPort}`;
  if (opts.memory) {
    await waitFor(`${name}: memory up`, async () => /caller memory ready/.test(log()), 20_000, 50);
  }
  return {
    name,
    url,
    internalUrl,
    proc,
    log,
    async metric(metric, labels) {
      const text = await (await fetch(`${internalUrl}/metrics`)).text();
      const key = labels ? `${metric}{${labels}}` : metric;
      let sum = 0;
      for (const line of text.split('\n')) {
        if (line.startsWith(`${key} `) || (!labels && line.startsWith(`${metric}{`)))
          sum += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
      return sum;
    },
  };
}

async function activeCalls(gw: Gw): Promise<number> {
  return ((await (await fetch(`${gw.internalUrl}/status`)).json()) as { activeCalls: number }).activeCalls;
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** Places `n` calls through the balancer (all land on the one ready gateway), talking from the start. */
async function placeCalls(lbUrl: string, n: number, hangupAfterMs: number) {
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      startCall({
        gatewayUrl: lbUrl,
        publicBaseUrl: PUBLIC_BASE_URL,
        authToken: AUTH_TOKEN,
        from: `+1415555${String(1000 + i).padStart(4, '0')}`,
        audio: speechPattern(hangupAfterMs, 500, 700),
        hangupAfterMs: hangupAfterMs + i * 30,
      }),
    ),
  );
}

before(async () => {
  db = await startPostgres();
  el = new FakeElevenLabs({ greetingMs: 400, replyMs: 300 });
  rest = new FakeTwilioRest(ACCOUNT_SID, AUTH_TOKEN);
  [elUrl, restUrl] = await Promise.all([el.start(), rest.start()]);
  pool = createPool(db.url, { max: 2 });
});

after(async () => {
  await pool?.end().catch(() => {});
  await Promise.all([el?.stop(), rest?.stop(), db?.destroy()]);
});

describe('live-call hand-off (real gateway processes)', { timeout: 120_000 }, () => {
  it('SIGTERM with a 2 s hand-off deadline: every call continues on the other pod, no greeting repeated, the transcript carried over', async () => {
    const [a, b] = await Promise.all([
      spawnGateway('gw-a', { memory: true }),
      spawnGateway('gw-b', { memory: true }),
    ]);
    const lb = new ReadyBalancer([a.url]);
    const lbUrl = await lb.start();
    try {
      const N = 8;
      const convBefore = el.conversations.length;
      const calls = await placeCalls(lbUrl, N, 12_000);
      await waitFor('calls on gw-a', async () => (await activeCalls(a)) === N, 15_000, 50).catch(
        async (err) => {
          throw new Error(
            `${err.message}: ${await activeCalls(a)} live; ${JSON.stringify(calls.map((c) => [c.result.kind, c.result.webhookStatus, c.result.endedBy]))}\n${a.log().slice(-3000)}`,
          );
        },
      );
      lb.backends.add(b.url);
      // Let the callers talk so there is a transcript to carry over.
      await waitFor(
        'a transcript on every conversation',
        async () =>
          el.conversations.slice(convBefore).every((c) => c.messages.length > 0 || c.audioChunks > 60) &&
          el.conversations.length - convBefore === N,
        10_000,
        50,
      );
      await new Promise((r) => setTimeout(r, 2500));
      const sigtermAt = Date.now();
      const exited = a.proc.exited.then((code) => ({ code, afterMs: Date.now() - sigtermAt }));
      a.proc.child.kill('SIGTERM');
      const results: CallResult[] = await Promise.all(calls.map((c) => c.done));
      const { code: exitCode, afterMs: aExitedAfterMs } = await exited;

      // Every call: two streams, one hand-off, ended by the caller at the planned time, on gw-b at the end.
      for (const r of results) {
        assert.equal(r.kind, 'stream');
        assert.equal(r.endedBy, 'caller', JSON.stringify(r.streams));
        assert.equal(r.handoffs, 1);
        assert.equal(r.streams.length, 2);
        assert.equal(r.streams[0]?.pod, 'gw-a');
        assert.equal(r.streams[1]?.pod, 'gw-b');
        assert.equal(r.streams[1]?.customParameters.callfleet_resumed, '1');
        assert.ok(r.durationMs >= 12_000, `call lasted its planned time (${r.durationMs} ms)`);
      }
      // Greeting: each call's first conversation greeted, the resumed one did not (first_message "").
      const convs = el.conversations.slice(convBefore);
      assert.equal(convs.length, 2 * N, 'one new ElevenLabs conversation per hand-off');
      const resumedConvs = convs.filter((c) => c.init?.conversation_config_override !== undefined);
      assert.equal(resumedConvs.length, N);
      assert.equal(convs.filter((c) => c.greeted).length, N, 'greeted once per call');
      for (const c of resumedConvs) {
        assert.equal(c.greeted, false, 'no greeting on the resumed conversation');
        const vars = c.init?.dynamic_variables as Record<string, unknown>;
        assert.equal(vars.call_resumed, true);
        assert.match(String(vars.previous_transcript), /Caller: caller speech/);
        assert.match(String(vars.previous_transcript), /Agent: reply of 300 ms/);
        const update = c.messages.find((m) => m.type === 'contextual_update');
        assert.match(String(update?.text), /Do not greet the caller again[\s\S]*Caller: caller speech/);
      }

      // Metrics: the call counts once (on gw-b, where it ended), one hand-off each, the gap measured.
      assert.equal(exitCode, 0);
      assert.ok(aExitedAfterMs < 6000, `gw-a exited soon after its hand-offs (${aExitedAfterMs} ms)`);
      assert.match(a.log(), /"results":\{"sent":8\}/);
      // The caller's side may see its stream closed a moment before gw-b has counted the call.
      await waitFor(
        'gw-b counted every call',
        async () => (await b.metric('callfleet_calls_total', 'outcome="completed"')) === N,
        3000,
        50,
      );
      assert.equal(await b.metric('callfleet_handoffs_total', 'result="resumed"'), N);
      assert.equal(await b.metric('callfleet_handoff_gap_seconds_count'), N);
      const gapSum = await b.metric('callfleet_handoff_gap_seconds_sum');
      const gaps = results.map((r) => r.handoffGapsMs[0] as number);
      console.log(
        `[handoff] ${N} calls handed off gw-a → gw-b: caller-side gap p50 ${quantile(gaps, 0.5).toFixed(0)} ms, p99 ${quantile(gaps, 0.99).toFixed(0)} ms; gateway-side mean gap ${((gapSum / N) * 1000).toFixed(0)} ms; gw-a exited ${aExitedAfterMs} ms after SIGTERM`,
      );
      assert.ok(quantile(gaps, 0.99) < 1000, 'hand-off gap under a second');

      // Memory: each call written once, as one call, with turns from both pods; no hand-off row left.
      await waitFor(
        'call records written',
        async () => Number((await pool.query('SELECT count(*) AS n FROM calls')).rows[0]?.n) >= N,
        10_000,
        100,
      );
      const rows = await pool.query<{ call_sid: string; outcome: string; turns: string; seconds: number }>(
        `SELECT c.call_sid, c.outcome, (SELECT count(*) FROM transcript_turns t WHERE t.call_id = c.id) AS turns,
                extract(epoch FROM c.ended_at - c.started_at) AS seconds FROM calls c`,
      );
      for (const call of calls) {
        const row = rows.rows.find((r) => r.call_sid === call.callSid);
        assert.ok(row, `call ${call.callSid} recorded`);
        assert.equal(row.outcome, 'completed');
        // 12 s on the caller's clock, from the caller's start; the gateway's start is a moment later.
        assert.ok(Number(row.seconds) >= 11.9, `recorded as one call of its whole length (${row.seconds} s)`);
      }
      assert.equal(Number((await pool.query('SELECT count(*) AS n FROM call_handoffs')).rows[0]?.n), 0);
    } finally {
      await lb.stop();
      await Promise.all([a.proc.stop('SIGKILL'), b.proc.stop('SIGTERM', 5000)]);
    }
  });

  it('Twilio REST update fails: the calls stay on the draining pod (plain draining), none cut', async () => {
    const a = await spawnGateway('gw-rest-fails', { memory: true, deadline: 1 });
    const lb = new ReadyBalancer([a.url]);
    const lbUrl = await lb.start();
    rest.failUpdates = true;
    rest.failUpdatesMatching = /callfleet_resumed/;
    try {
      const calls = await placeCalls(lbUrl, 4, 4000);
      await waitFor('calls live', async () => (await activeCalls(a)) === 4, 10_000, 50);
      a.proc.child.kill('SIGTERM');
      const results = await Promise.all(calls.map((c) => c.done));
      for (const r of results) {
        assert.equal(r.endedBy, 'caller');
        assert.equal(r.handoffs, 0);
        assert.equal(r.streams.length, 1);
      }
      assert.equal(await a.proc.exited, 0);
      assert.match(a.log(), /"results":\{"rest_failed":4\}/);
      assert.ok(rest.failedUpdates >= 4);
    } finally {
      rest.failUpdates = false;
      rest.failUpdatesMatching = undefined;
      await lb.stop();
      await a.proc.stop('SIGKILL');
    }
  });

  it('no caller memory: hand-off is skipped, plain draining, none cut', async () => {
    const a = await spawnGateway('gw-no-memory', { memory: false, deadline: 1 });
    const lb = new ReadyBalancer([a.url]);
    const lbUrl = await lb.start();
    const updatesBefore = rest.updates.length;
    try {
      const calls = await placeCalls(lbUrl, 3, 4000);
      await waitFor('calls live', async () => (await activeCalls(a)) === 3, 10_000, 50);
      a.proc.child.kill('SIGTERM');
      const results = await Promise.all(calls.map((c) => c.done));
      for (const r of results) {
        assert.equal(r.endedBy, 'caller');
        assert.equal(r.handoffs, 0);
      }
      assert.equal(await a.proc.exited, 0);
      assert.match(a.log(), /"results":\{"no_memory":3\}/);
      assert.equal(rest.updates.length, updatesBefore, 'no Twilio REST update');
    } finally {
      await lb.stop();
      await a.proc.stop('SIGKILL');
    }
  });
});
