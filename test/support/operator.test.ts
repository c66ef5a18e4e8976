import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countsSince, sumMetric } from './operator.ts';

describe('operator metric helpers', () => {
  it('countsSince gives what grew, largest first, and leaves out what did not', () => {
    assert.deepEqual(Object.entries(countsSince({ a: 1, b: 5, c: 2 }, { a: 4, b: 5, c: 12, d: 1 })), [
      ['c', 10],
      ['a', 3],
      ['d', 1],
    ]);
  });

  it('sumMetric adds the samples whose labels include the ones asked', () => {
    const text = [
      'callfleet_operator_api_writes_total{verb="apply",resource="services"} 3',
      'callfleet_operator_api_writes_total{verb="patch",resource="pods"} 2',
      'callfleet_operator_api_writes_total{verb="apply",resource="deployments"} 1',
    ].join('\n');
    assert.equal(sumMetric(text, 'callfleet_operator_api_writes_total', { verb: 'apply' }), 4);
    assert.equal(sumMetric(text, 'callfleet_operator_api_writes_total'), 6);
  });
});
