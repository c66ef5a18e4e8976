import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { RelayLatency } from '../../voice-gateway/relay-latency.ts';

test('relay latency: observations land in cumulative buckets exposed in seconds', async () => {
  const relay = new RelayLatency();
  const registry = new Registry();
  relay.register(registry, 'test_relay_seconds', 'help');
  const now = performance.now();
  relay.observe('to_backend', now); // ~0 ms
  relay.observe('to_backend', now - 3); // ~3 ms
  relay.observe('to_caller', now - 2000); // beyond the last bucket
  relay.observe('to_caller', 0); // no receive time: ignored
  const text = await registry.metrics();
  assert.match(text, /# TYPE test_relay_seconds histogram/);
  assert.match(text, /test_relay_seconds_bucket\{direction="to_backend",le="0.001"\} 1\n/);
  assert.match(text, /test_relay_seconds_bucket\{direction="to_backend",le="0.005"\} 2\n/);
  assert.match(text, /test_relay_seconds_bucket\{direction="to_backend",le="\+Inf"\} 2\n/);
  assert.match(text, /test_relay_seconds_count\{direction="to_backend"\} 2\n/);
  assert.match(text, /test_relay_seconds_bucket\{direction="to_caller",le="1"\} 0\n/);
  assert.match(text, /test_relay_seconds_bucket\{direction="to_caller",le="\+Inf"\} 1\n/);
  const sum = Number(/test_relay_seconds_sum\{direction="to_caller"\} (\S+)/.exec(text)?.[1]);
  assert.ok(sum >= 2 && sum < 2.5, `sum ${sum}`);
});
