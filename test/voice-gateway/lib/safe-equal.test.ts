import assert from 'node:assert/strict';
import { test } from 'node:test';
import { safeEqual } from '../../../voice-gateway/lib/safe-equal.ts';

test('safeEqual: equal strings and buffers match, different ones and lengths do not', () => {
  assert.equal(safeEqual('abc', 'abc'), true);
  assert.equal(safeEqual(Buffer.from('abc'), 'abc'), true);
  assert.equal(safeEqual('abc', 'abd'), false);
  assert.equal(safeEqual('abc', 'abcd'), false);
  assert.equal(safeEqual('', ''), true);
});
