// The /status document has one definition (voice-gateway/status.ts): the gateway writes it (typed in
// server.ts) and the operator's call tracker parses it with the same schema.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseGatewayStatus } from '../../voice-gateway/status.ts';

test('a full document parses as written', () => {
  const doc = {
    activeCalls: 3,
    capacity: 20,
    draining: false,
    callsTotal: 41,
    callsFailed: 2,
    connectingCalls: 1,
  };
  assert.deepEqual(parseGatewayStatus(JSON.parse(JSON.stringify(doc))), doc);
});

test('a gateway of an older version (no call counters) still reports its calls', () => {
  assert.deepEqual(parseGatewayStatus({ activeCalls: 1, capacity: 20, draining: true }), {
    activeCalls: 1,
    capacity: 20,
    draining: true,
    callsTotal: 0,
    callsFailed: 0,
    connectingCalls: 0,
  });
});

test('anything else is not a status: the tracker counts the poll as failed instead of guessing', () => {
  for (const bad of [
    null,
    'ok',
    {},
    { activeCalls: '3', capacity: 20, draining: false },
    { activeCalls: -1, capacity: 20, draining: false },
    { activeCalls: 1, capacity: 20, draining: 'no' },
    { activeCalls: 1.5, capacity: 20, draining: false },
  ])
    assert.equal(parseGatewayStatus(bad), undefined, JSON.stringify(bad));
});
