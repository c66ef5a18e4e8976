import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inWindow, nextOpen, zoneOfNumber } from '../../../operator/campaign/window.ts';

const w = { start: '08:00', end: '21:00', days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] };

describe('calling windows', () => {
  it("is evaluated in the recipient's local time", () => {
    // 2026-01-05 (Monday) 13:30 UTC = 08:30 New York, 05:30 Los Angeles, 14:30 Berlin.
    const t = new Date('2026-01-05T13:30:00Z');
    assert.equal(inWindow(w, 'America/New_York', t), true);
    assert.equal(inWindow(w, 'America/Los_Angeles', t), false);
    assert.equal(inWindow(w, 'Europe/Berlin', t), true);
    // 21:00 is the end (exclusive).
    assert.equal(inWindow(w, 'UTC', new Date('2026-01-05T21:00:00Z')), false);
    assert.equal(inWindow(w, 'UTC', new Date('2026-01-05T20:59:00Z')), true);
  });

  it('nextOpen is the exact minute the window opens, across days and DST', () => {
    const t = new Date('2026-01-05T13:30:00Z');
    assert.equal(nextOpen(w, 'America/Los_Angeles', t).toISOString(), '2026-01-05T16:00:00.000Z');
    // After the end: the next morning.
    assert.equal(
      nextOpen(w, 'UTC', new Date('2026-01-05T22:10:00Z')).toISOString(),
      '2026-01-06T08:00:00.000Z',
    );
    // Weekdays only: Saturday evening → Monday 08:00.
    const weekdays = { ...w, days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'] };
    assert.equal(
      nextOpen(weekdays, 'UTC', new Date('2026-01-10T20:00:00Z')).toISOString(),
      '2026-01-12T08:00:00.000Z',
    );
    // New York springs forward on 2026-03-08: 08:00 EDT is 12:00 UTC.
    assert.equal(
      nextOpen(w, 'America/New_York', new Date('2026-03-08T06:00:00Z')).toISOString(),
      '2026-03-08T12:00:00.000Z',
    );
    // Open now: now.
    assert.equal(nextOpen(w, 'UTC', t).getTime(), t.getTime());
  });

  it('derives a zone from the number when it implies one', () => {
    assert.equal(zoneOfNumber('+442071234567'), 'Europe/London');
    assert.equal(zoneOfNumber('+14155550123'), 'America/Los_Angeles');
    assert.equal(zoneOfNumber('+12125550123'), 'America/New_York');
    assert.equal(zoneOfNumber('+19995550123'), undefined);
    assert.equal(zoneOfNumber('+5511999999999'), undefined);
  });
});
