// The gateway counts every HTTP request by bounded route and status, and times it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { routeOf } from '../../voice-gateway/http-metrics.ts';
import { startGateway, type TestGateway } from './helpers.ts';

describe('gateway HTTP request metrics', () => {
  let g: TestGateway;
  before(async () => {
    g = await startGateway();
  });
  after(() => g.close());

  it('bounds the route label: call sids, query strings and unknown paths never make new series', () => {
    assert.equal(routeOf('/twilio/voice?x=1'), '/twilio/voice');
    assert.equal(routeOf('/twilio/stream/CA123'), '/twilio/stream');
    assert.equal(routeOf('/memory/callers/abc'), '/memory');
    assert.equal(routeOf('/wp-login.php'), 'other');
  });

  it('counts requests by route and code, a refused signature as 403, and times the webhook', async () => {
    await fetch(`${g.url}/health`);
    await fetch(`${g.url}/nope/${Math.random()}`);
    const refused = await fetch(`${g.url}/twilio/voice`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'bad' },
      body: 'CallSid=CA1&From=%2B14155550100',
    });
    assert.equal(refused.status, 403);
    const answered = await g.call();
    assert.ok(answered);
    assert.equal(await g.metric('callfleet_http_requests_total', 'route="/health",code="200"'), 1);
    assert.equal(await g.metric('callfleet_http_requests_total', 'route="other",code="404"'), 1);
    assert.equal(await g.metric('callfleet_http_requests_total', 'route="/twilio/voice",code="403"'), 1);
    assert.ok((await g.metric('callfleet_http_requests_total', 'route="/twilio/voice",code="200"')) >= 1);
    assert.ok(
      (await g.metric('callfleet_http_request_duration_seconds_count', 'route="/twilio/voice"')) >= 2,
    );
  });
});
