import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitCidr } from './cluster.ts';

describe('splitCidr', () => {
  it('gives disjoint slices with room for the addresses asked, from the range’s network', () => {
    assert.deepEqual(splitCidr('198.19.0.1/16', 3, 500), ['198.19.0.1/23', '198.19.2.1/23', '198.19.4.1/23']);
    assert.deepEqual(splitCidr('127.231.0.1/16', 2, 8), ['127.231.0.1/28', '127.231.0.17/28']);
    assert.deepEqual(splitCidr('10.1.2.3/24', 2, 100), ['10.1.2.1/25', '10.1.2.129/25']);
  });

  it('refuses what the range cannot hold', () => {
    assert.throws(
      () => splitCidr('10.0.0.1/24', 3, 100),
      /10\.0\.0\.1\/24 cannot hold 3 slices of 100 addresses/,
    );
    assert.doesNotThrow(() => splitCidr('198.19.0.1/16', 21, 1000));
  });
});
