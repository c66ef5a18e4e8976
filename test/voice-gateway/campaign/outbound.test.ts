// The gateway's side of a campaign call: the signed voice webhook of an outbound call (machine →
// voicemail or hang-up, person → the stream with a credential naming the recipient as the remote
// party), signed status callbacks recorded forward-only, a full fleet recorded as a failed attempt.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CallProgress } from '../../../voice-gateway/campaign/attempts.ts';
import type { CampaignHooks } from '../../../voice-gateway/campaign/gateway-hooks.ts';
import { computeSignature } from '../../../voice-gateway/twilio/signature.ts';
import { StreamCredentials } from '../../../voice-gateway/twilio/stream-credential.ts';
import { AUTH_TOKEN, PUBLIC_BASE_URL, STREAM_KEY, startGateway, type TestGateway } from '../helpers.ts';

const ATTEMPT = '0b8f1c9e-2d4a-4c1b-9e7f-3a5b6c7d8e9f';
const RECIPIENT = '+14155550123';
const CALLER_ID = '+14155550100';

const progress: { attempt: string; p: CallProgress }[] = [];
const machines: string[] = [];
const hooks: CampaignHooks = {
  async progress(attempt, p) {
    progress.push({ attempt, p });
    return true;
  },
  async answeredBy(attempt, _sid, by) {
    machines.push(`${attempt}:${by}`);
  },
  async call() {
    return undefined;
  },
  async optOut() {},
};

let gw: TestGateway;

async function post(path: string, params: Record<string, string>, sign = true): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (sign) headers['x-twilio-signature'] = computeSignature(AUTH_TOKEN, `${PUBLIC_BASE_URL}${path}`, params);
  return fetch(`${gw.url}${path}`, { method: 'POST', headers, body: new URLSearchParams(params).toString() });
}

const outbound = (extra: Record<string, string> = {}) => ({
  AccountSid: 'AC00000000000000000000000000000000',
  CallSid: 'CA11111111111111111111111111111111',
  From: CALLER_ID,
  To: RECIPIENT,
  CallStatus: 'in-progress',
  Direction: 'outbound-api',
  ...extra,
});

describe('campaign calls on the gateway', () => {
  before(async () => {
    gw = await startGateway({ calls: { maxConcurrentPerPod: 1 } } as never, { campaigns: hooks });
  });
  after(() => gw.close());

  it('a machine gets the voicemail message (or a hang-up) and the attempt records who answered', async () => {
    const vm = `/twilio/voice?callfleet_attempt=${ATTEMPT}&callfleet_vm=${encodeURIComponent('Call us back & soon')}`;
    const res = await post(vm, outbound({ AnsweredBy: 'machine_end_beep' }));
    const twiml = await res.text();
    assert.equal(res.status, 200);
    assert.match(twiml, /<Say>Call us back &amp; soon<\/Say><Hangup\/>/);
    assert.doesNotMatch(twiml, /<Stream/);
    assert.deepEqual(machines, [`${ATTEMPT}:machine_end_beep`]);
    const hang = await post(
      `/twilio/voice?callfleet_attempt=${ATTEMPT}&callfleet_vm=`,
      outbound({ AnsweredBy: 'fax' }),
    );
    assert.match(await hang.text(), /<Response><Hangup\/><\/Response>/);
  });

  it('a person gets the stream; its credential names the recipient as the caller (memory as for inbound)', async () => {
    const res = await post(`/twilio/voice?callfleet_attempt=${ATTEMPT}`, outbound({ AnsweredBy: 'human' }));
    const twiml = await res.text();
    const token = /<Parameter name="callfleet_stream" value="([^"]+)"\/>/.exec(twiml)?.[1];
    assert.ok(token, twiml);
    const v = new StreamCredentials(STREAM_KEY).verify(token);
    assert.ok(v.ok);
    assert.equal(v.claims.from, RECIPIENT);
    assert.equal(v.claims.to, CALLER_ID);
    assert.deepEqual(progress.at(-1), {
      attempt: ATTEMPT,
      p: { callSid: 'CA11111111111111111111111111111111', callStatus: 'in-progress', answeredBy: 'human' },
    });
  });

  it('the attempt id only counts on a signed URL: an unsigned or re-signed-without-it request is refused', async () => {
    const res = await post(`/twilio/voice?callfleet_attempt=${ATTEMPT}`, outbound(), false);
    assert.equal(res.status, 400);
    // Signed for the URL without the attempt, sent with it: the signature does not cover it.
    const params = outbound({ AnsweredBy: 'machine_start' });
    const r2 = await fetch(`${gw.url}/twilio/voice?callfleet_attempt=${ATTEMPT}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': computeSignature(AUTH_TOKEN, `${PUBLIC_BASE_URL}/twilio/voice`, params),
      },
      body: new URLSearchParams(params).toString(),
    });
    assert.equal(r2.status, 403);
  });

  it('status callbacks are verified and recorded; a wrong signature is refused', async () => {
    const path = `/twilio/call-status?callfleet_attempt=${ATTEMPT}`;
    const params = outbound({
      CallStatus: 'busy',
      CallbackSource: 'call-progress-events',
      SequenceNumber: '2',
    });
    const before = progress.length;
    const bad = await fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'nope' },
      body: new URLSearchParams(params).toString(),
    });
    assert.equal(bad.status, 403);
    assert.equal(progress.length, before);
    const ok = await post(path, params);
    assert.equal(ok.status, 204);
    assert.deepEqual(progress.at(-1), {
      attempt: ATTEMPT,
      p: { callSid: 'CA11111111111111111111111111111111', callStatus: 'busy', answeredBy: undefined },
    });
    // Without an attempt id (not a campaign call): accepted, nothing recorded.
    assert.equal((await post('/twilio/call-status', params)).status, 204);
    assert.equal(progress.length, before + 1);
  });

  it('a campaign call that meets a full fleet gets the fallback and its attempt counts as failed', async () => {
    const live = await gw.start({ hangupAfterMs: 5000, sendAudio: false });
    assert.equal(live.result.kind, 'stream');
    const res = await post(`/twilio/voice?callfleet_attempt=${ATTEMPT}`, outbound({ AnsweredBy: 'human' }));
    assert.doesNotMatch(await res.text(), /<Stream/);
    assert.equal(progress.at(-1)?.p.callStatus, 'failed');
    live.hangup();
    await live.done;
  });

  it('an inbound call with an attempt id in its URL is still an inbound call', async () => {
    const res = await post(`/twilio/voice?callfleet_attempt=${ATTEMPT}`, outbound({ Direction: 'inbound' }));
    const token = /<Parameter name="callfleet_stream" value="([^"]+)"\/>/.exec(await res.text())?.[1];
    const v = new StreamCredentials(STREAM_KEY).verify(token);
    assert.ok(v.ok);
    assert.equal(v.claims.from, CALLER_ID);
  });
});
