import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { budget, FailureWindow, TokenBucket } from '../../../operator/campaign/pacing.ts';
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

  it('the token bucket refills at the rate, bounded by the burst', () => {
    const b = new TokenBucket(2, 2, 0);
    assert.equal(b.available(0), 1);
    b.take(1);
    assert.equal(b.available(500), 1);
    assert.equal(b.available(5000), 2);
    assert.equal(b.available(6000, 1), 2);
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
