import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import {
  createElevenLabsWebhooks,
  verifyElevenLabsSignature,
} from '../../../../voice-gateway/memory/http/elevenlabs-webhooks.ts';
import { type Harness, phoneForms, startHarness } from '../harness.ts';

const fixture = JSON.parse(
  readFileSync(new URL('../../../fixtures/elevenlabs-agents.json', import.meta.url), 'utf8'),
);
const SECRET = 'whsec_test_callfleet';
const TOKEN = 'el_request_token';
const AUTH = { authorization: `Bearer ${TOKEN}` };

function sign(body: string, t: number, secret = SECRET): string {
  return `t=${t},v0=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.close();
});

describe('ElevenLabs signature', () => {
  test('matches the fixture vector', () => {
    const v = fixture.post_call_webhook.vector;
    const ok = verifyElevenLabsSignature(Buffer.from(v.body), v.header, v.secret, 1_600_000_000);
    assert.deepEqual(ok, { ok: true, timestamp: 1_600_000_000 });
  });
  test('30-minute tolerance: 1799 s old passes, 1801 s old fails', () => {
    const v = fixture.post_call_webhook.vector;
    assert.equal(verifyElevenLabsSignature(Buffer.from(v.body), v.header, v.secret, 1_600_001_799).ok, true);
    assert.equal(verifyElevenLabsSignature(Buffer.from(v.body), v.header, v.secret, 1_600_001_801).ok, false);
  });
  test('a changed body or a wrong secret fails', () => {
    const v = fixture.post_call_webhook.vector;
    assert.equal(
      verifyElevenLabsSignature(Buffer.from(`${v.body} `), v.header, v.secret, 1_600_000_000).ok,
      false,
    );
    assert.equal(verifyElevenLabsSignature(Buffer.from(v.body), v.header, 'other', 1_600_000_000).ok, false);
    assert.equal(
      verifyElevenLabsSignature(Buffer.from(v.body), undefined, v.secret, 1_600_000_000).ok,
      false,
    );
    assert.equal(
      verifyElevenLabsSignature(Buffer.from(v.body), 'garbage', v.secret, 1_600_000_000).ok,
      false,
    );
  });
});

describe('elevenlabs-native webhooks', () => {
  const phone = '+442071838750';
  const now = Math.floor(Date.now() / 1000);
  const postCallBody = (conversationId: string) =>
    JSON.stringify({
      type: 'post_call_transcription',
      event_timestamp: now,
      data: {
        conversation_id: conversationId,
        status: 'done',
        metadata: {
          start_time_unix_secs: now - 90,
          call_duration_secs: 60,
          phone_call: { external_number: phone, agent_number: '+442000000000' },
        },
        transcript: [
          { role: 'agent', message: 'Hi, this is the clinic.', time_in_call_secs: 0 },
          {
            role: 'user',
            message: 'I need to move my physiotherapy appointment to Friday',
            time_in_call_secs: 3,
          },
        ],
        analysis: { transcript_summary: 'Moved the physiotherapy appointment to Friday.' },
      },
    });

  test('conversation-init for an unknown caller, post-call (valid / invalid / stale), then init knows them', async () => {
    const store = h.store();
    const hooks = createElevenLabsWebhooks(store, SECRET, { requestToken: TOKEN, lookupBudgetMs: 150 });
    const init1 = await hooks.conversationInit(
      Buffer.from(
        JSON.stringify({ caller_id: phone, agent_id: 'a', called_number: '+442000000000', call_sid: 'CA1' }),
      ),
      AUTH,
    );
    assert.equal(init1.status, 200);
    const body1 = init1.body as { type: string; dynamic_variables: Record<string, unknown> };
    assert.equal(body1.type, 'conversation_initiation_client_data');
    assert.equal(body1.dynamic_variables.caller_known, false);
    assert.equal(body1.dynamic_variables.call_count, 0);

    const raw = postCallBody('conv_abc123');
    const bad = await hooks.postCall(
      Buffer.from(raw),
      { 'elevenlabs-signature': sign(raw, now, 'wrong') },
      now,
    );
    assert.equal(bad.status, 401);
    const stale = await hooks.postCall(
      Buffer.from(raw),
      { 'ElevenLabs-Signature': sign(raw, now - 1801) },
      now,
    );
    assert.equal(stale.status, 401);
    const missing = await hooks.postCall(Buffer.from(raw), {}, now);
    assert.equal(missing.status, 401);
    await store.flush(5000);
    assert.equal((await h.pool.query('SELECT count(*)::int AS n FROM calls')).rows[0].n, 0);

    const ok = await hooks.postCall(Buffer.from(raw), { 'ElevenLabs-Signature': sign(raw, now - 60) }, now);
    assert.deepEqual(ok, { status: 200, body: { status: 'accepted' } });
    // Idempotent per conversation id: the same pod and another pod (new handler set).
    const again = await hooks.postCall(Buffer.from(raw), { 'ElevenLabs-Signature': sign(raw, now) }, now);
    assert.equal(again.status, 200);
    const otherPod = createElevenLabsWebhooks(store, SECRET, { lookupBudgetMs: 150 });
    assert.equal(
      (await otherPod.postCall(Buffer.from(raw), { 'ElevenLabs-Signature': sign(raw, now) }, now)).status,
      200,
    );
    await store.flush(5000);
    const calls = await h.pool.query(`SELECT count(*)::int AS n FROM calls WHERE call_sid = 'conv_abc123'`);
    assert.equal(calls.rows[0].n, 1);

    const init2 = await hooks.conversationInit(Buffer.from(JSON.stringify({ caller_id: phone })), AUTH);
    const vars = (init2.body as { dynamic_variables: Record<string, unknown> }).dynamic_variables;
    assert.equal(vars.caller_known, true);
    assert.equal(vars.call_count, 1);
    assert.equal(vars.last_call_summary, 'Moved the physiotherapy appointment to Friday.');
    for (const value of Object.values(vars))
      assert.ok(['string', 'number', 'boolean'].includes(typeof value));
    for (const form of phoneForms(phone)) assert.ok(!JSON.stringify(vars).includes(form));

    const byId = await hooks.searchMemory(
      Buffer.from(JSON.stringify({ query: 'physiotherapy', callfleet_caller_id: vars.callfleet_caller_id })),
      AUTH,
    );
    assert.equal(byId.status, 200);
    const results = (byId.body as { results: { text: string }[] }).results;
    assert.ok(results.length >= 1);
    assert.ok(results.some((r) => r.text === 'Moved the physiotherapy appointment to Friday.'));
    const byPhone = await hooks.searchMemory(
      Buffer.from(JSON.stringify({ query: 'Friday', caller_id: phone })),
      AUTH,
    );
    assert.ok((byPhone.body as { results: unknown[] }).results.length >= 1);
    assert.equal((await hooks.searchMemory(Buffer.from('{}'), AUTH)).status, 400);
    assert.equal((await hooks.conversationInit(Buffer.from('not json'), AUTH)).status, 400);
  });

  test('request token guards conversation-init and tools when configured', async () => {
    const hooks = createElevenLabsWebhooks(h.store(), SECRET, { lookupBudgetMs: 150, requestToken: 'tok' });
    const body = Buffer.from(JSON.stringify({ caller_id: phone }));
    assert.equal((await hooks.conversationInit(body, {})).status, 401);
    assert.equal((await hooks.conversationInit(body, { authorization: 'Bearer nope' })).status, 401);
    assert.equal((await hooks.conversationInit(body, { authorization: 'Bearer tok' })).status, 200);
    assert.equal(
      (await hooks.searchMemory(Buffer.from(JSON.stringify({ query: 'x', caller_id: phone })), {})).status,
      401,
    );
  });

  test('without a configured request token, conversation-init and tools refuse everything (fail closed)', async () => {
    const hooks = createElevenLabsWebhooks(h.store(), SECRET, { lookupBudgetMs: 150 });
    const body = Buffer.from(JSON.stringify({ caller_id: phone, query: 'x' }));
    for (const headers of [{}, { authorization: 'Bearer ' }, { authorization: 'Bearer anything' }]) {
      const init = await hooks.conversationInit(body, headers);
      assert.equal(init.status, 503);
      assert.match(JSON.stringify(init.body), /ELEVENLABS_REQUEST_TOKEN/);
      assert.equal((await hooks.searchMemory(body, headers)).status, 503);
    }
  });
});
