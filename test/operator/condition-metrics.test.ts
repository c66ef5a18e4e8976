// The ready gauges follow the cache: a changed object's series are replaced, a deleted one's removed,
// and objects the cache did not replace are not exported again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConditionMetrics } from '../../operator/condition-metrics.ts';
import { createOperatorMetrics } from '../../operator/metrics.ts';
import type { WithStatus } from '../../operator/reconcile/status.ts';

const agent = (name: string, ready: boolean, reason: string): WithStatus => ({
  metadata: { namespace: 'team', name },
  status: {
    conditions: [
      { type: 'Ready', status: ready ? 'True' : 'False', reason, message: '', lastTransitionTime: '' },
      { type: 'Progressing', status: 'True', reason: 'Ignored', message: '', lastTransitionTime: '' },
    ],
  },
});

async function series(metrics: ReturnType<typeof createOperatorMetrics>) {
  const conditions = (await metrics.conditions.get()).values.map(
    (v) => `${v.labels.kind}/${v.labels.resource_name} ${v.labels.type} ${v.labels.reason}=${v.value}`,
  );
  const counts = (await metrics.managedResources.get()).values.map(
    (v) => `${v.labels.kind} ready=${v.labels.ready}: ${v.value}`,
  );
  return { conditions: conditions.sort(), counts: counts.sort() };
}

test('series follow changes and deletions, and only replaced objects are exported again', async () => {
  const metrics = createOperatorMetrics();
  const gauges = new ConditionMetrics(metrics);
  const agents = new Map([
    ['team/a', agent('a', true, 'RolledOut')],
    ['team/b', agent('b', false, 'RollingOut')],
  ]);
  const stores = new Map<string, WithStatus>();
  gauges.update([
    ['VoiceAgent', agents],
    ['MemoryStore', stores],
  ]);
  assert.deepEqual(await series(metrics), {
    conditions: ['VoiceAgent/a Ready RolledOut=1', 'VoiceAgent/b Ready RollingOut=0'],
    counts: [
      'MemoryStore ready=false: 0',
      'MemoryStore ready=true: 0',
      'VoiceAgent ready=false: 1',
      'VoiceAgent ready=true: 1',
    ],
  });

  // b becomes Ready (the cache replaces it), a is deleted, c appears.
  agents.set('team/b', agent('b', true, 'RolledOut'));
  agents.delete('team/a');
  agents.set('team/c', agent('c', false, 'Creating'));
  gauges.update([
    ['VoiceAgent', agents],
    ['MemoryStore', stores],
  ]);
  assert.deepEqual((await series(metrics)).conditions, [
    'VoiceAgent/b Ready RolledOut=1',
    'VoiceAgent/c Ready Creating=0',
  ]);
  assert.ok((await series(metrics)).counts.includes('VoiceAgent ready=true: 1'));

  // An object the cache did not replace is not exported again (a series removed behind the gauges'
  // back stays removed): the update costs the changed objects, not the whole cache.
  metrics.conditions.remove({
    kind: 'VoiceAgent',
    resource_namespace: 'team',
    resource_name: 'b',
    type: 'Ready',
    reason: 'RolledOut',
  });
  gauges.update([
    ['VoiceAgent', agents],
    ['MemoryStore', stores],
  ]);
  assert.deepEqual((await series(metrics)).conditions, ['VoiceAgent/c Ready Creating=0']);
});
