import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spread } from './spread.ts';

test('the median of an odd and an even number of runs, with the spread and the runs in their order', () => {
  assert.deepEqual(spread([3, 1, 2]), { median: 2, min: 1, max: 3, runs: [3, 1, 2] });
  assert.deepEqual(spread([4, 1, 3, 2], 1), { median: 2.5, min: 1, max: 4, runs: [4, 1, 3, 2] });
  assert.deepEqual(spread([1.23456], 2), { median: 1.23, min: 1.23, max: 1.23, runs: [1.23] });
});
