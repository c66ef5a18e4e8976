// Caller memory end to end through REAL gateway processes (`node bin/callfleet.ts gateway` with
// CALLFLEET_MEMORY_URL on a throwaway PostgreSQL), the Twilio call simulator and the fake ElevenLabs /
// OpenAI Realtime servers: returning callers in both backends, search_memory mid-call, a database
// restart mid-call, the elevenlabs-native webhooks, no clear phone number in a dump, and a greeting
// that does not wait for a slow database.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { createPool } from '../../../voice-gateway/memory/store/pool.ts';
import { type ElConversation, FakeElevenLabs } from '../../fakes/elevenlabs.ts';
import { FakeOpenAiRealtime, type RtSession } from '../../fakes/openai-realtime.ts';
import { FakeTwilioRest } from '../../fakes/twilio-rest.ts';
import { type CallOptions, type SimulatedCall, startCall } from '../../simulator/call.ts';
import { PG_BIN, startPostgres, type TestPostgres } from '../../support/postgres.ts';
import { type Managed, startProcess, waitFor } from '../../support/processes.ts';
import { ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL, STREAM_KEY, sleep } from '../helpers.ts';
import { KEY_SPEC, phoneForms } from './harness.ts';

const root = new URL('../../../', import.meta.url).pathname;
const WEBHOOK_SECRET = 'whsec_gateway_e2e';
const REQUEST_TOKEN = 'tok_gateway_e2e';
const DATA_RIGHTS_TOKEN = 'dsr_gateway_e2e';

const PHONES = {
  elevenlabs: '+14155550111',
  openai: '+14155550122',
  restart: '+14155550133',
  outage: '+14155550144',
  native: '+442071838799',
  blackhole: '+14155550155',
};

interface RunningGateway {
  url: string;
  internalUrl: string;
  proc: Managed;
  metric(name: string): Promise<number>;
  call(from: string, o?: Partial<CallOptions>): Promise<SimulatedCall>;
}

const dir = mkdtempSync(join(tmpdir(), 'callfleet-gwmem-'));
const logs: string[] = [];

async function spawnGateway(
  name: string,
  config: Record<string, unknown>,
  env: Record<string, string>,
): Promise<RunningGateway> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ publicBaseUrl: PUBLIC_BASE_URL, ...config }));
  const logFile = join(dir, `${name}.log`);
  logs.push(logFile);
  const proc = startProcess(name, process.execPath, [join(root, 'bin/callfleet.ts'), 'gateway'], logFile, {
    env: {
      CALLFLEET_GATEWAY_CONFIG: file,
      PORT: '0',
      CALLFLEET_INTERNAL_PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      CALLFLEET_STREAM_KEY: STREAM_KEY,
      TWILIO_ACCOUNT_SID: ACCOUNT_SID,
      CALLFLEET_ENCRYPTION_KEY: KEY_SPEC,
      ...env,
    },
  });
  let port = 0;
  let internalPort = 0;
  await waitFor(
    `gateway ${name} to listen`,
    async () => {
      if (proc.child.exitCode !== null) throw new Error(readFileSync(logFile, 'utf8'));
      const log = readFileSync(logFile, 'utf8');
      const m = /"port":(\d+)/.exec(log);
      if (m) port = Number(m[1]);
      internalPort = Number(/"internalPort":(\d+)/.exec(log)?.[1] ?? 0);
      return port > 0;
    },
    20_000,
    50,
  );
  const url = `http://127.0.0.1:${port}`;
  const internalUrl = `http://127.0.0.1:${internalPort}`;
  return {
    url,
    internalUrl,
    proc,
    async metric(metric) {
      const text = await (await fetch(`${internalUrl}/metrics`)).text();
      let sum = 0;
      for (const line of text.split('\n')) {
        if (line.startsWith(`${metric} `) || line.startsWith(`${metric}{`))
          sum += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
      return sum;
    },
    call: (from, o = {}) =>
      startCall({
        gatewayUrl: url,
        publicBaseUrl: PUBLIC_BASE_URL,
        authToken: AUTH_TOKEN,
        from,
        hangupAfterMs: 60_000,
        ...o,
      }),
  };
}

let db: TestPostgres;
let pool: pg.Pool;
let el: FakeElevenLabs;
let rt: FakeOpenAiRealtime;
let rest: FakeTwilioRest;
let blackhole: ReturnType<typeof createServer>;
const blackholeSockets = new Set<Socket>();
let gwEl: RunningGateway;
let gwRt: RunningGateway;
let gwNative: RunningGateway;
let gwSlow: RunningGateway;

before(async () => {
  [db, el, rt, rest] = await Promise.all([
    startPostgres(),
    Promise.resolve(new FakeElevenLabs({ greetingMs: 400, replyMs: 400 })),
    Promise.resolve(new FakeOpenAiRealtime('sk-test', 400)),
    Promise.resolve(new FakeTwilioRest(ACCOUNT_SID, AUTH_TOKEN)),
  ]);
  const [elUrl, rtUrl, restUrl] = await Promise.all([el.start(), rt.start(), rest.start()]);
  // A database that accepts TCP connections and never answers: every query hangs until its timeout.
  blackhole = createServer((s) => {
    blackholeSockets.add(s);
    s.on('error', () => {});
    s.on('close', () => blackholeSockets.delete(s));
  });
  await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', () => r()));
  const holePort = (blackhole.address() as { port: number }).port;
  pool = createPool(db.url, { max: 2 });
  const memory = { enabled: true, lookupBudgetMs: 300, healthCheckSeconds: 0.3 };
  const common = { CALLFLEET_MEMORY_URL: db.url, TWILIO_API_BASE_URL: restUrl };
  [gwEl, gwRt, gwNative, gwSlow] = await Promise.all([
    spawnGateway(
      'elevenlabs',
      { agent: { provider: 'elevenlabs', elevenlabs: { agentId: 'agent_e2e', baseUrl: elUrl } }, memory },
      { ...common, CALLFLEET_DATA_RIGHTS_TOKEN: DATA_RIGHTS_TOKEN },
    ),
    spawnGateway(
      'openai',
      {
        agent: {
          provider: 'openai-realtime',
          openaiRealtime: { model: 'gpt-realtime', instructions: 'You take pizza orders.', baseUrl: rtUrl },
        },
        memory,
      },
      { ...common, OPENAI_API_KEY: 'sk-test' },
    ),
    spawnGateway(
      'native',
      { telephony: 'elevenlabs-native', memory },
      { ...common, ELEVENLABS_WEBHOOK_SECRET: WEBHOOK_SECRET, ELEVENLABS_REQUEST_TOKEN: REQUEST_TOKEN },
    ),
    spawnGateway(
      'slow-db',
      {
        agent: { provider: 'elevenlabs', elevenlabs: { agentId: 'agent_slow', baseUrl: elUrl } },
        memory: { enabled: true, lookupBudgetMs: 200 },
      },
      { ...common, CALLFLEET_MEMORY_URL: `postgres://postgres@127.0.0.1:${holePort}/postgres` },
    ),
  ]);
  // The gateways migrate the empty database themselves (under the advisory lock, all at once).
  await waitFor('the gateways to migrate', async () => (await gwEl.metric('callfleet_memory_up')) === 1);
});

after(async () => {
  await Promise.all([gwEl, gwRt, gwNative, gwSlow].map((g) => g?.proc.stop('SIGTERM', 5000)));
  for (const s of blackholeSockets) s.destroy();
  blackhole?.close();
  await pool?.end().catch(() => {});
  await Promise.all([el?.stop(), rt?.stop(), rest?.stop(), db?.destroy()]);
});

async function nextConversation(count: number): Promise<ElConversation> {
  await waitFor(
    'an ElevenLabs conversation',
    async () => el.conversations[count]?.init !== undefined,
    5000,
    10,
  );
  return el.conversations[count] as ElConversation;
}

async function nextRealtimeSession(count: number): Promise<RtSession> {
  await waitFor('a Realtime session', async () => rt.sessions[count]?.sessionUpdate !== undefined, 5000, 10);
  return rt.sessions[count] as RtSession;
}

function elSays(c: ElConversation, role: 'caller' | 'agent', text: string): void {
  c.ws.send(
    JSON.stringify(
      role === 'caller'
        ? { type: 'user_transcript', user_transcription_event: { user_transcript: text } }
        : { type: 'agent_response', agent_response_event: { agent_response: text } },
    ),
  );
}

async function hangUp(call: SimulatedCall): Promise<void> {
  await sleep(100); // let the last backend messages reach the gateway
  call.hangup();
  await call.done;
}

async function callRow(callSid: string): Promise<{ id: string; turns: number } | undefined> {
  const { rows } = await pool.query<{ id: string; turns: number }>(
    `SELECT c.id, (SELECT count(*)::int FROM transcript_turns t WHERE t.call_id = c.id) AS turns
       FROM calls c WHERE c.call_sid = $1`,
    [callSid],
  );
  return rows[0];
}

async function written(callSid: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(
    `call ${callSid} to be written`,
    async () => (await callRow(callSid)) !== undefined,
    timeoutMs,
  );
}

describe('caller memory in the running gateway (real processes, real PostgreSQL)', () => {
  test('(a)+(b) ElevenLabs: the second call gets what the first wrote, and search_memory answers from the store', async () => {
    const n = el.conversations.length;
    const first = await gwEl.call(PHONES.elevenlabs);
    const c1 = await nextConversation(n);
    const vars1 = c1.init?.dynamic_variables as Record<string, unknown>;
    assert.equal(vars1.returning_caller, false);
    elSays(c1, 'caller', 'I ordered the blue kayak with order number 4471');
    elSays(c1, 'agent', 'Noted, the blue kayak.');
    await hangUp(first);
    await written(first.callSid);

    const second = await gwEl.call(PHONES.elevenlabs);
    const c2 = await nextConversation(n + 1);
    const vars2 = c2.init?.dynamic_variables as Record<string, unknown>;
    assert.equal(vars2.returning_caller, true);
    assert.equal(vars2.call_count, 1);
    assert.match(String(vars2.last_call_summary), /blue kayak with order number 4471/);
    assert.match(String(vars2.caller_id), /^[0-9a-f-]{36}$/);
    for (const form of phoneForms(PHONES.elevenlabs)) assert.ok(!JSON.stringify(vars2).includes(form));

    el.toolCall(c2, 'kayak', 'tool_kayak');
    await waitFor('the tool result', async () => c2.toolResults.length > 0, 5000, 10);
    const result = c2.toolResults[0] as { tool_call_id: string; result: string; is_error: boolean };
    assert.equal(result.tool_call_id, 'tool_kayak');
    assert.equal(result.is_error, false);
    const items = JSON.parse(result.result) as { kind: string; text: string }[];
    assert.ok(
      items.some((i) => i.text.includes('blue kayak')),
      result.result,
    );
    await hangUp(second);
  });

  test('(a)+(b) OpenAI Realtime: the second session instructions carry the first call; search_memory answers', async () => {
    const n = rt.sessions.length;
    const first = await gwRt.call(PHONES.openai);
    const s1 = await nextRealtimeSession(n);
    const session1 = s1.sessionUpdate?.session as { instructions: string; tools?: { name: string }[] };
    assert.match(session1.instructions, /first-time caller/);
    assert.deepEqual(
      session1.tools?.map((t) => t.name),
      ['search_memory'],
    );
    s1.ws.send(
      JSON.stringify({
        type: 'conversation.item.input_audio_transcription.completed',
        item_id: 'item_in_x',
        content_index: 0,
        transcript: 'Please remember that I am allergic to peanuts',
      }),
    );
    await hangUp(first);
    await written(first.callSid);

    const second = await gwRt.call(PHONES.openai);
    const s2 = await nextRealtimeSession(n + 1);
    const instructions = String(
      (s2.sessionUpdate?.session as { instructions?: string } | undefined)?.instructions,
    );
    assert.match(instructions, /^You take pizza orders\./);
    assert.match(instructions, /called 1 time\(s\) before/);
    assert.match(instructions, /allergic to peanuts/);
    for (const form of phoneForms(PHONES.openai)) assert.ok(!instructions.includes(form));

    s2.ws.send(
      JSON.stringify({
        type: 'response.function_call_arguments.done',
        item_id: 'item_fc',
        call_id: 'call_peanuts',
        name: 'search_memory',
        arguments: JSON.stringify({ query: 'peanuts' }),
      }),
    );
    await waitFor(
      'the function_call_output',
      async () => s2.messages.some((m) => (m.item as { type?: string })?.type === 'function_call_output'),
      5000,
      10,
    );
    const output = s2.messages.find((m) => (m.item as { type?: string })?.type === 'function_call_output')
      ?.item as { call_id: string; output: string };
    assert.equal(output.call_id, 'call_peanuts');
    assert.match(output.output, /allergic to peanuts/);
    await hangUp(second);
  });

  test('(c)+(f) database restart mid-call: no transcript lost or doubled; greetings on time while it is down', async () => {
    const n = el.conversations.length;
    const call = await gwEl.call(PHONES.restart);
    const conv = await nextConversation(n);
    elSays(conv, 'caller', 'turn one before the outage');
    elSays(conv, 'agent', 'turn two before the outage');
    await sleep(100);

    await db.stop();
    elSays(conv, 'caller', 'turn three during the outage');
    elSays(conv, 'agent', 'turn four during the outage');

    // While the database is down a new call still gets its greeting at once (the lookup fails fast
    // and is counted) and the pod stays ready: memory is not required.
    const missesBefore = await gwEl.metric('callfleet_memory_lookup_misses_total');
    const outage = await gwEl.call(PHONES.outage);
    await waitFor('the greeting', async () => outage.result.firstAudioMs !== undefined, 3000, 10);
    assert.ok((outage.result.firstAudioMs as number) < 1500, `first audio ${outage.result.firstAudioMs} ms`);
    assert.ok((await gwEl.metric('callfleet_memory_lookup_misses_total')) > missesBefore);
    await hangUp(outage);
    await hangUp(call);

    await waitFor(
      'callfleet_memory_up 0',
      async () => (await gwEl.metric('callfleet_memory_up')) === 0,
      5000,
    );
    assert.equal((await fetch(`${gwEl.url}/health/ready`)).status, 200);
    assert.ok((await gwEl.metric('callfleet_memory_pending_writes')) >= 2);
    await sleep(500); // a few failed attempts

    await db.start();
    await written(call.callSid, 15_000);
    await written(outage.callSid, 15_000);
    await waitFor(
      'callfleet_memory_up 1',
      async () => (await gwEl.metric('callfleet_memory_up')) === 1,
      5000,
    );

    const row = await callRow(call.callSid);
    assert.equal(row?.turns, 5);
    const count = await pool.query('SELECT count(*)::int AS n FROM calls WHERE call_sid = $1', [
      call.callSid,
    ]);
    assert.equal(count.rows[0].n, 1);

    // Read it back decrypted through the gateway's data-rights API (bearer token).
    const refused = await fetch(`${gwEl.internalUrl}/memory/export`, {
      method: 'POST',
      body: JSON.stringify({ phone: PHONES.restart }),
    });
    assert.equal(refused.status, 401);
    const res = await fetch(`${gwEl.internalUrl}/memory/export`, {
      method: 'POST',
      headers: { authorization: `Bearer ${DATA_RIGHTS_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ phone: PHONES.restart, actor: 'e2e-test' }),
    });
    assert.equal(res.status, 200);
    const doc = (await res.json()) as {
      calls: { callSid: string; transcript: { role: string; text: string }[] }[];
    };
    assert.equal(doc.calls.length, 1);
    assert.deepEqual(doc.calls[0]?.transcript.map((t) => `${t.role}: ${t.text}`).sort(), [
      'agent: reply of 400 ms',
      'agent: turn four during the outage',
      'agent: turn two before the outage',
      'caller: turn one before the outage',
      'caller: turn three during the outage',
    ]);
  });

  test('(f) an unanswering database does not delay the greeting (lookup budget); misses are counted', async () => {
    const before = await gwSlow.metric('callfleet_memory_lookup_misses_total');
    const call = await gwSlow.call(PHONES.blackhole);
    await waitFor('the greeting', async () => call.result.firstAudioMs !== undefined, 3000, 10);
    // The pool's connect timeout is 2 s: waiting on the database would show up here.
    assert.ok((call.result.firstAudioMs as number) < 1500, `first audio ${call.result.firstAudioMs} ms`);
    assert.equal((await gwSlow.metric('callfleet_memory_lookup_misses_total')) - before, 1);
    assert.equal(await gwSlow.metric('callfleet_memory_up'), 0);
    assert.equal((await fetch(`${gwSlow.url}/health/ready`)).status, 200);
    await hangUp(call);
  });

  test('(d) elevenlabs-native webhooks through the real process', async () => {
    const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${gwNative.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    const auth = { authorization: `Bearer ${REQUEST_TOKEN}` };

    // twilio-stream pods do not serve them: no "what do you know about this number" oracle.
    assert.equal(
      (await fetch(`${gwEl.url}/elevenlabs/conversation-init`, { method: 'POST', body: '{}' })).status,
      404,
    );
    assert.equal((await post('/elevenlabs/conversation-init', { caller_id: PHONES.elevenlabs })).status, 401);

    const init = await post('/elevenlabs/conversation-init', { caller_id: PHONES.elevenlabs }, auth);
    assert.equal(init.status, 200);
    const initBody = (await init.json()) as { type: string; dynamic_variables: Record<string, unknown> };
    assert.equal(initBody.type, 'conversation_initiation_client_data');
    const vars = initBody.dynamic_variables;
    assert.equal(vars.caller_known, true);
    assert.equal(vars.call_count, 2);
    assert.equal(vars.memory_available, true);
    assert.match(String(vars.caller_memories), /blue kayak/);
    for (const form of phoneForms(PHONES.elevenlabs)) assert.ok(!JSON.stringify(vars).includes(form));

    const search = await post(
      '/elevenlabs/tools/search-memory',
      { query: 'kayak', callfleet_caller_id: vars.callfleet_caller_id },
      auth,
    );
    assert.equal(search.status, 200);
    const { results } = (await search.json()) as { results: { text: string }[] };
    assert.ok(results.some((r) => r.text.includes('blue kayak')));

    const now = Math.floor(Date.now() / 1000);
    const raw = JSON.stringify({
      type: 'post_call_transcription',
      event_timestamp: now,
      data: {
        conversation_id: 'conv_gateway_e2e_1',
        status: 'done',
        metadata: {
          start_time_unix_secs: now - 90,
          call_duration_secs: 60,
          phone_call: { external_number: PHONES.native, agent_number: '+442000000000' },
        },
        transcript: [
          { role: 'agent', message: 'Hi, this is the clinic.', time_in_call_secs: 0 },
          { role: 'user', message: 'Please move my physiotherapy to Friday', time_in_call_secs: 3 },
        ],
        analysis: { transcript_summary: 'Moved the physiotherapy appointment to Friday.' },
      },
    });
    const sign = (t: number, secret = WEBHOOK_SECRET) =>
      `t=${t},v0=${createHmac('sha256', secret).update(`${t}.${raw}`).digest('hex')}`;
    const postCall = (signature: string) =>
      post('/elevenlabs/post-call', raw, { 'ElevenLabs-Signature': signature });

    assert.equal((await postCall(sign(now, 'not-the-secret'))).status, 401);
    assert.equal((await postCall(sign(now - 3600))).status, 401);
    const ok = await postCall(sign(now));
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { status: 'accepted' });
    const again = await postCall(sign(now + 1));
    assert.equal(again.status, 200);
    assert.deepEqual(await again.json(), { status: 'duplicate' });
    await written('conv_gateway_e2e_1');
    const count = await pool.query('SELECT count(*)::int AS n FROM calls WHERE call_sid = $1', [
      'conv_gateway_e2e_1',
    ]);
    assert.equal(count.rows[0].n, 1);

    const known = await post('/elevenlabs/conversation-init', { caller_id: PHONES.native }, auth);
    const knownVars = ((await known.json()) as { dynamic_variables: Record<string, unknown> })
      .dynamic_variables;
    assert.equal(knownVars.call_count, 1);
    assert.equal(knownVars.last_call_summary, 'Moved the physiotherapy appointment to Friday.');
  });

  test('(e) a pg_dump after all these calls, and the gateway logs, hold no clear phone number', () => {
    const dump = execFileSync(join(PG_BIN, 'pg_dump'), ['--data-only', '--inserts', '-d', db.url], {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
    assert.match(dump, /INSERT INTO public\.calls/);
    const text = dump + logs.map((f) => readFileSync(f, 'utf8')).join('\n');
    for (const phone of Object.values(PHONES)) {
      for (const form of phoneForms(phone)) assert.ok(!text.includes(form), `${form} found`);
    }
  });
  test('drain: a call ending during the drain is written before exit, across a database outage', async () => {
    const n = rt.sessions.length;
    const call = await gwRt.call('+14155550166');
    const session = await nextRealtimeSession(n);
    session.ws.send(
      JSON.stringify({
        type: 'conversation.item.input_audio_transcription.completed',
        item_id: 'item_in_d',
        content_index: 0,
        transcript: 'I would like to cancel my subscription',
      }),
    );
    await sleep(100);
    await db.stop();
    gwRt.proc.child.kill('SIGTERM');
    await waitFor(
      'readiness 503',
      async () => (await fetch(`${gwRt.url}/health/ready`)).status === 503,
      5000,
    );
    await hangUp(call);
    await sleep(1000);
    assert.equal(gwRt.proc.child.exitCode, null, 'the gateway waits for its pending write');
    await db.start();
    assert.equal(await gwRt.proc.exited, 0);
    assert.equal((await callRow(call.callSid))?.turns, 1);
  });
});
