// A campaign call's recipient data in a real gateway with real PostgreSQL: the recipient's CSV
// variables reach the agent (ElevenLabs dynamic variables), DTMF and the agent's opt_out tool put the
// number on the do-not-call list, and a data-rights erase cancels the number's pending recipients.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createCampaignHooks } from '../../../voice-gateway/campaign/gateway-hooks.ts';
import { importRecipients, isDoNotCall } from '../../../voice-gateway/campaign/recipients.ts';
import { ensureCampaignSchema } from '../../../voice-gateway/campaign/schema.ts';
import { generateKeySpec, parseKeyring } from '../../../voice-gateway/memory/store/crypto.ts';
import { forgetCaller } from '../../../voice-gateway/memory/store/data-rights.ts';
import { migrate } from '../../../voice-gateway/memory/store/migrate.ts';
import { createPool } from '../../../voice-gateway/memory/store/pool.ts';
import { FakeElevenLabs } from '../../fakes/elevenlabs.ts';
import { startPostgres, type TestPostgres } from '../../support/postgres.ts';
import { startGateway, type TestGateway, until } from '../helpers.ts';

const ring = parseKeyring(generateKeySpec());
const CAMPAIGN = 'ns/renewals/uid-1';
const CALLER_ID = '+14155550100';
const phones = ['+14155550201', '+14155550202', '+14155550203'];

let pg: TestPostgres;
let pool: ReturnType<typeof createPool>;
let el: FakeElevenLabs;
let gw: TestGateway;

/** An attempt row the dialer would have written, already bound to its call. */
async function attempt(idx: number, id: string, callSid: string, digit: string | null) {
  await pool.query(
    `UPDATE campaign_recipients SET state = 'dialing', attempts = 1 WHERE campaign = $1 AND idx = $2`,
    [CAMPAIGN, idx],
  );
  await pool.query(
    `INSERT INTO campaign_attempts (id, campaign, idx, attempt, epoch, created_at, call_sid, state, opt_out_digit)
     VALUES ($1, $2, $3, 1, 1, now(), $4, 'sent', $5)`,
    [id, CAMPAIGN, idx, callSid, digit],
  );
}

describe('recipient data on a campaign call (real PostgreSQL, ElevenLabs fake)', () => {
  before(async () => {
    pg = await startPostgres();
    pool = createPool(pg.url, { max: 4 });
    await migrate(pool);
    await ensureCampaignSchema(pool);
    await importRecipients(
      pool,
      ring,
      CAMPAIGN,
      phones.map((phone, i) => ({
        phone,
        timeZone: 'UTC',
        priority: 0,
        variables: { first_name: ['Ada', 'Alan', 'Grace'][i] as string, plan: 'gold' },
      })),
    );
    el = new FakeElevenLabs({ apiKey: 'xi-key', greetingMs: 300, replyMs: 300 });
    const elUrl = await el.start();
    gw = await startGateway(
      { agent: { provider: 'elevenlabs', elevenlabs: { agentId: 'agent_1', baseUrl: elUrl } } } as never,
      { secrets: { elevenlabsApiKey: 'xi-key' }, campaigns: createCampaignHooks(pool, ring) },
    );
  });

  after(async () => {
    await gw?.close();
    await el?.stop();
    await pool?.end();
    await pg?.destroy();
  });

  const outboundCall = (idx: number, id: string, callSid: string) =>
    gw.start({
      callSid,
      from: CALLER_ID,
      to: phones[idx] as string,
      webhookPath: `/twilio/voice?callfleet_attempt=${id}`,
      webhookParams: { Direction: 'outbound-api', AnsweredBy: 'human', CallStatus: 'in-progress' },
      hangupAfterMs: 1500,
      sendAudio: false,
    });

  it("the recipient's variables reach the agent as dynamic variables; DTMF opts the number out", async () => {
    const id = '11111111-1111-4111-8111-111111111111';
    const sid = 'CA00000000000000000000000000000001';
    await attempt(0, id, sid, '9');
    const call = await outboundCall(0, id, sid);
    assert.equal(call.result.kind, 'stream');
    await until(() => el.conversations[0]?.init !== undefined, 3000, 'conversation initiation');
    const vars = el.conversations[0]?.init?.dynamic_variables as Record<string, unknown>;
    assert.equal(vars.first_name, 'Ada');
    assert.equal(vars.plan, 'gold');
    assert.equal(await isDoNotCall(pool, ring, phones[0] as string), false);
    call.sendDtmf('9');
    await call.done;
    const listed = async () => isDoNotCall(pool, ring, phones[0] as string);
    const end = Date.now() + 3000;
    while (!(await listed()) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await listed(), true, 'DTMF 9 put the number on the do-not-call list');
  });

  it("the agent's opt_out tool records the opt-out and answers the agent", async () => {
    const id = '22222222-2222-4222-8222-222222222222';
    const sid = 'CA00000000000000000000000000000002';
    await attempt(1, id, sid, null);
    const call = await outboundCall(1, id, sid);
    await until(() => el.conversations.length === 2, 3000, 'conversation');
    const conv = el.conversations[1];
    assert.ok(conv);
    conv.ws.send(
      JSON.stringify({
        type: 'client_tool_call',
        client_tool_call: { tool_name: 'opt_out', tool_call_id: 'tc_1', parameters: {} },
      }),
    );
    await until(() => conv.toolResults.length === 1, 3000, 'tool result');
    assert.match(JSON.stringify(conv.toolResults[0]), /will not be called again/);
    assert.equal(await isDoNotCall(pool, ring, phones[1] as string), true);
    call.hangup();
    await call.done;
  });

  it("a data-rights erase cancels the number's pending recipients and drops their data", async () => {
    await forgetCaller(pool, ring, phones[2] as string, 'test');
    const r = await pool.query<{ state: string; phone_enc: Buffer | null; vars_enc: Buffer | null }>(
      'SELECT state, phone_enc, vars_enc FROM campaign_recipients WHERE campaign = $1 AND idx = 2',
      [CAMPAIGN],
    );
    assert.deepEqual(r.rows[0], { state: 'canceled', phone_enc: null, vars_enc: null });
  });
});
