import assert from 'node:assert/strict';
import { test } from 'node:test';
import { register as globalRegistry, Registry } from 'prom-client';
import { counter, gauge, histogram } from '../../../voice-gateway/lib/metric.ts';

test('metric: each kind lands on the registry it is given, never on the global one', async () => {
  const r = new Registry();
  counter(r, 'test_things_total', 'Things', ['kind']).inc({ kind: 'a' });
  gauge(r, 'test_level', 'Level').set(3);
  histogram(r, 'test_seconds', 'Time', [0.1, 1]).observe(0.5);
  const text = await r.metrics();
  assert.match(text, /^test_things_total\{kind="a"\} 1$/m);
  assert.match(text, /^test_level 3$/m);
  assert.match(text, /^test_seconds_bucket\{le="1"\} 1$/m);
  assert.doesNotMatch(await globalRegistry.metrics(), /test_things_total/);
});
