import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isWindowActive, scheduledMinimum } from '../../../operator/scaling/schedule.ts';

const businessHours = {
  name: 'business',
  days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'],
  start: '08:00',
  end: '18:00',
  timeZone: 'Europe/Berlin',
  minReplicas: 6,
};
const overnight = {
  name: 'night',
  days: ['Fri'],
  start: '22:00',
  end: '02:00',
  timeZone: 'UTC',
  minReplicas: 3,
};

test('a window is active on its days between start and end, in its own time zone', () => {
  // Monday 2026-11-23 08:30 in Berlin is 07:30 UTC.
  assert.equal(isWindowActive(businessHours, new Date('2026-11-23T07:30:00Z')), true);
  assert.equal(isWindowActive(businessHours, new Date('2026-11-23T06:30:00Z')), false, 'before 08:00 Berlin');
  assert.equal(
    isWindowActive(businessHours, new Date('2026-11-23T17:00:00Z')),
    false,
    '18:00 Berlin is the end',
  );
  assert.equal(isWindowActive(businessHours, new Date('2026-11-22T10:00:00Z')), false, 'Sunday');
});

test('an overnight window belongs to the day it starts on', () => {
  assert.equal(isWindowActive(overnight, new Date('2026-11-27T23:00:00Z')), true, 'Friday evening');
  assert.equal(isWindowActive(overnight, new Date('2026-11-28T01:00:00Z')), true, 'early Saturday');
  assert.equal(isWindowActive(overnight, new Date('2026-11-28T03:00:00Z')), false);
  assert.equal(
    isWindowActive(overnight, new Date('2026-11-27T01:00:00Z')),
    false,
    'early Friday belongs to Thursday',
  );
});

test('the scheduled minimum is the highest active minimum, 0 outside every window', () => {
  assert.equal(scheduledMinimum([businessHours, overnight], new Date('2026-11-23T07:30:00Z')), 6);
  assert.equal(scheduledMinimum([businessHours, overnight], new Date('2026-11-22T10:00:00Z')), 0);
  assert.equal(scheduledMinimum(undefined, new Date()), 0);
});
