import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countFlag } from './flags.ts';

test('a count flag is a whole number of at least 1; anything else is an error naming the flag', () => {
  assert.equal(countFlag('rounds', '3'), 3);
  assert.equal(countFlag('apiserver-gogc', '200'), 200);
  for (const bad of ['0', '-2', '1.5', 'many', '', ' ', undefined]) {
    assert.throws(
      () => countFlag('namespaces', bad),
      /^Error: --namespaces .*expected a whole number of at least 1$/,
    );
  }
});
