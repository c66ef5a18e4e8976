import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { budget, FailureWindow, RateLimiter } from '../../../operator/campaign/pacing.ts';
import { outcomeOf, stateOf } from '../../../voice-gateway/campaign/attempts.ts';

const fleet = { capacity: 30, active: 0, fresh: true };

describe('pacing', () => {
  it('never more than the concurrency left, the free slots beyond the headroom, or the tokens', () => {
    const base = { maxConcurrent: 20, headroom: 4, live: 0, otherLive: 0, liveAtPoll: 0, fleet, tokens: 100 };
    assert.deepEqual(budget(base), { allowed: 20, reason: 'ok' });
    assert.deepEqual(budget({ ...base, live: 20 }), { allowed: 0, reason: 'concurrency' });
    // 10 inbound calls: 30 - 4 - 10 = 16 slots for the campaign.
    assert.deepEqual(budget({ ...base, fleet: { ...fleet, active: 10 } }), { allowed: 16, reason: 'ok' });
    // Our 12 live calls are part of the fleet's 15 active: 3 are inbound.
    assert.equal(budget({ ...base, live: 12, liveAtPoll: 12, fleet: { ...fleet, active: 15 } }).allowed, 8);
    // A full fleet pauses dialing.
    assert.deepEqual(budget({ ...base, fleet: { ...fleet, active: 26 } }), {
      allowed: 0,
      reason: 'fleet-full',
    });
    // Another campaign on the same fleet takes slots too.
    assert.equal(budget({ ...base, otherLive: 20 }).allowed, 6);
    assert.deepEqual(budget({ ...base, fleet: { ...fleet, fresh: false } }), {
      allowed: 0,
      reason: 'fleet-unknown',
    });
    assert.deepEqual(budget({ ...base, tokens: 0.5 }), { allowed: 0, reason: 'rate' });
  });

  it('the rate limiter allows at most `rate` calls in any one-second window', () => {
    const l = new RateLimiter();
    assert.equal(l.available(0, 3), 3);
    for (const t of [0, 100, 200]) l.take(t);
    assert.equal(l.available(900, 3), 0);
    assert.equal(l.available(1000, 3), 1);
    assert.equal(l.available(1200, 3), 3);
    // Below one per second: one call per 1/rate seconds.
    const slow = new RateLimiter();
    slow.take(0);
    assert.equal(slow.available(1500, 0.5), 0);
    assert.equal(slow.available(2000, 0.5), 1);
  });

  it('the failure rate is judged over the last attempts once there are 10', () => {
    const w = new FailureWindow(20);
    for (let i = 0; i < 9; i++) w.push(true);
    assert.equal(w.rate(), 0);
    w.push(false);
    assert.equal(w.rate(), 0.9);
    for (let i = 0; i < 20; i++) w.push(false);
    assert.equal(w.rate(), 0);
  });

  it('Twilio statuses map to states and outcomes; a machine that answered is voicemail', () => {
    assert.equal(stateOf('queued'), 'sent');
    assert.equal(stateOf('ringing'), 'ringing');
    assert.equal(stateOf('in-progress'), 'in-progress');
    assert.equal(stateOf('no-answer'), 'done');
    assert.equal(outcomeOf('completed', 'human'), 'completed');
    assert.equal(outcomeOf('completed', 'machine_end_beep'), 'voicemail');
    assert.equal(outcomeOf('canceled'), 'failed');
    assert.equal(outcomeOf('ringing'), undefined);
  });
});
