// Transfer to a human on the agent's request (calls.transfer): the transfer_call tool through each
// protocol (ElevenLabs client tool, OpenAI function call, websocket tool_call), ending in a Twilio <Dial>
// to a configured target only, with the warm summary whispered (<Number url>) and kept in caller memory.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import type { GatewayConfigInput } from '../../../voice-gateway/config/schema.ts';
import { computeSignature } from '../../../voice-gateway/twilio/signature.ts';
import { FakeElevenLabs } from '../../fakes/elevenlabs.ts';
import { FakeOpenAiRealtime } from '../../fakes/openai-realtime.ts';
import { silence } from '../../simulator/call.ts';
import { AUTH_TOKEN, PUBLIC_BASE_URL, sleep, startGateway, until } from '../helpers.ts';
import { harnessForTests } from '../memory/harness.ts';

const transfer: GatewayConfigInput['calls'] = {
  transfer: {
    targets: [
      { name: 'sales', dial: '+14155550123', description: 'quotes and orders' },
      { name: 'support', dial: 'sip:support@pbx.example.com' },
    ],
    say: 'Please hold while I connect you.',
  },
};

async function whisper(url: string, gatewayUrl: string, token = AUTH_TOKEN) {
  const params = { CallSid: 'CAchild', AccountSid: 'AC00000000000000000000000000000000' };
  const res = await fetch(`${gatewayUrl}${new URL(url).pathname}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': computeSignature(token, url, params),
    },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, body: await res.text() };
}

describe('transfer to a human (calls.transfer)', () => {
  const harness = harnessForTests();

  it('ElevenLabs client tool: an unknown target is refused, a configured one ends in <Dial> with the summary whispered and stored', async () => {
    const el = new FakeElevenLabs({ greetingMs: 400 });
    const elUrl = await el.start();
    const memory = harness().store();
    const g = await startGateway(
      {
        agent: { provider: 'elevenlabs', elevenlabs: { agentId: 'a', baseUrl: elUrl } },
        calls: transfer,
        memory: { enabled: true, lookupBudgetMs: 500 },
      },
      { memory },
    );
    try {
      const from = '+14155550142';
      const call = await g.start({ from, audio: silence(100), hangupAfterMs: 15_000 });
      await until(
        () => el.conversations[0]?.init !== undefined && call.result.mediaReceived > 0,
        5000,
        'greeting',
      );
      const conv = el.conversations[0];
      assert.ok(conv);

      el.transferCall(conv, { target: '+19995550000' }, 'tool_1');
      await until(() => conv.toolResults.length === 1, 3000, 'refusal');
      const refusal = conv.toolResults[0] as { tool_call_id: string; is_error: boolean; result: string };
      assert.equal(refusal.tool_call_id, 'tool_1');
      assert.equal(refusal.is_error, true);
      assert.match(refusal.result, /not a configured target\. Allowed targets: sales, support/);
      assert.equal(await g.metric('callfleet_transfers_total', 'result="refused_target"'), 1);
      assert.equal(g.rest.updates.length, 0, 'nothing dialled');

      el.transferCall(
        conv,
        {
          target: 'sales',
          message: 'Connecting you to sales.',
          warm: true,
          summary: 'Wants a quote for 20 seats.',
        },
        'tool_2',
      );
      const r = await call.done;
      const ok = conv.toolResults[1] as { tool_call_id: string; is_error: boolean };
      assert.equal(ok.tool_call_id, 'tool_2');
      assert.equal(ok.is_error, false);
      assert.equal(r.endedBy, 'redirect');
      const twiml = r.redirectTwiml ?? '';
      const m =
        /<Say>Connecting you to sales\.<\/Say><Dial timeout="30"><Number url="([^"]+)" method="POST">\+14155550123<\/Number><\/Dial>/.exec(
          twiml,
        );
      assert.ok(m, twiml);
      const url = (m[1] as string).replace(/&amp;/g, '&');
      assert.ok(url.startsWith(`${PUBLIC_BASE_URL}/twilio/whisper/`));
      assert.doesNotMatch(url, /quote/, 'the summary is sealed, not in the URL');
      assert.equal(await g.metric('callfleet_transfers_total', 'result="transferred"'), 1);
      await sleep(50);
      assert.equal(await g.metric('callfleet_calls_total', 'outcome="transferred"'), 1);

      // Twilio fetches the whisper when the human answers: signed, on any pod of the fleet.
      const w = await whisper(url, g.url);
      assert.equal(w.status, 200);
      assert.match(w.body, /<Response><Say>Wants a quote for 20 seats\.<\/Say><\/Response>/);
      assert.equal((await whisper(url, g.url, 'wrong')).status, 403);
      assert.equal((await whisper(`${url.slice(0, -4)}AAAA`, g.url)).status, 404);

      // And the summary is kept in the MemoryStore for the human's tools, with the outcome.
      await memory.flush(3000);
      const ctx = await memory.lookup(from, 2000);
      assert.match(ctx?.lastCallSummary ?? '', /^Transferred to sales: Wants a quote for 20 seats\./);
      const { rows } = await harness().pool.query<{ outcome: string }>(
        'SELECT outcome FROM calls ORDER BY started_at DESC LIMIT 1',
      );
      assert.equal(rows[0]?.outcome, 'transferred');
    } finally {
      await g.close();
      await el.stop();
    }
  });

  it('OpenAI function call: the tool is offered with the configured targets; a SIP target is dialled', async () => {
    const oa = new FakeOpenAiRealtime('sk-test', 300);
    const oaUrl = await oa.start();
    const g = await startGateway(
      { agent: { provider: 'openai-realtime', openaiRealtime: { baseUrl: oaUrl } }, calls: transfer },
      { secrets: { openaiApiKey: 'sk-test' } },
    );
    try {
      const call = await g.start({ audio: silence(100), hangupAfterMs: 10_000 });
      await until(() => oa.sessions[0]?.sessionUpdate !== undefined, 5000, 'session.update');
      const s = oa.sessions[0];
      assert.ok(s);
      const tools = ((s.sessionUpdate?.session ?? {}) as { tools?: { name: string; parameters: unknown }[] })
        .tools;
      const tool = tools?.find((t) => t.name === 'transfer_call');
      assert.ok(tool, 'transfer_call offered');
      assert.deepEqual(
        (tool.parameters as { properties: { target: { enum: string[] } } }).properties.target.enum,
        ['sales', 'support'],
      );
      oa.functionCall(s, 'transfer_call', { target: 'support' }, 'call_9');
      const r = await call.done;
      assert.match(
        r.redirectTwiml ?? '',
        /<Say>Please hold while I connect you\.<\/Say><Dial timeout="30"><Sip>sip:support@pbx\.example\.com<\/Sip><\/Dial>/,
      );
      const out = s.messages.find(
        (m) =>
          m.type === 'conversation.item.create' &&
          (m.item as { type: string }).type === 'function_call_output',
      );
      assert.equal((out?.item as { call_id?: string } | undefined)?.call_id, 'call_9');
    } finally {
      await g.close();
      await oa.stop();
    }
  });

  it('websocket protocol tool_call: a transfer without targets configured is refused and the call goes on', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    const got: Record<string, unknown>[] = [];
    wss.on('connection', (ws) => {
      ws.on('message', (d) => {
        const m = JSON.parse(d.toString()) as Record<string, unknown>;
        if (m.type === 'audio') return;
        got.push(m);
        if (m.type === 'start') {
          ws.send(JSON.stringify({ type: 'tool_call', name: 'transfer_call', id: 't1', arguments: {} }));
        } else if (m.type === 'tool_result' && m.id === 't1') {
          ws.send(
            JSON.stringify({
              type: 'tool_call',
              name: 'transfer_call',
              id: 't2',
              arguments: { target: 'sales' },
            }),
          );
        }
      });
    });
    await new Promise((r) => wss.once('listening', r));
    const port = (wss.address() as AddressInfo).port;
    const cfg = (calls: GatewayConfigInput['calls']) => ({
      agent: { provider: 'websocket' as const, websocket: { url: `ws://127.0.0.1:${port}/agent` } },
      calls,
    });
    const none = await startGateway(cfg({}));
    try {
      try {
        const r = await none.call({ audio: silence(100), hangupAfterMs: 1500 });
        assert.equal(r.endedBy, 'caller', 'the call went on');
        const result = got.find((m) => m.type === 'tool_result' && m.id === 't1');
        assert.equal(result?.isError, true);
        assert.match(String(result?.result), /no transfer targets are configured/);
        // Both requests (t1, and t2 sent on t1's refusal) refused: nothing to dial.
        assert.equal(await none.metric('callfleet_transfers_total', 'result="not_configured"'), 2);
        assert.equal(none.rest.updates.length, 0);
      } finally {
        await none.close();
      }
      got.length = 0;
      const g = await startGateway(cfg(transfer));
      try {
        const r = await g.call({ audio: silence(100), hangupAfterMs: 5000 });
        assert.equal(got.find((m) => m.id === 't1')?.isError, false, 'default target: the first');
        assert.equal(r.endedBy, 'redirect');
        assert.match(r.redirectTwiml ?? '', /<Number>\+14155550123<\/Number>/);
      } finally {
        await g.close();
      }
    } finally {
      for (const c of wss.clients) c.terminate();
      await new Promise((r) => wss.close(r));
    }
  });
});
