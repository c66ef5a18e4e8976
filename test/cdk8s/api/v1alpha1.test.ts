// The zod parse accepts every example and rejects every invalid one at the field the API server names.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { CEL_KEY, celRefine, celRulesOf } from '../../../cdk8s/api/cel.ts';
import {
  drainGracePeriodSeconds,
  formatPath,
  parseMemoryStore,
  parseVoiceAgent,
} from '../../../cdk8s/api/v1alpha1/index.ts';
import { examples, invalidExamples, parseExample } from './examples.ts';

describe('examples', () => {
  const valid = examples();
  const invalid = invalidExamples();

  test('the issue’s example set is there', () => {
    assert.ok(valid.length >= 7);
    assert.ok(invalid.length >= 10);
  });

  for (const ex of valid) {
    test(`accepts ${ex.file}`, () => {
      const r = parseExample(ex.object);
      assert.ok(r.ok, JSON.stringify(!r.ok && r.issues));
    });
  }

  for (const ex of invalid) {
    test(`rejects ${ex.file} at ${ex.expected[0]}`, () => {
      const r = parseExample(ex.object);
      assert.ok(!r.ok, 'accepted');
      const issue = r.issues.find((i) => i.path === ex.expected[0]);
      assert.ok(issue, `no issue at ${ex.expected[0]}: ${JSON.stringify(r.issues)}`);
      for (const line of ex.expected.slice(1)) assert.ok(issue.message.includes(line), issue.message);
    });
  }
});

describe('parse', () => {
  const minimal = {
    apiVersion: 'callfleet.io/v1alpha1',
    kind: 'VoiceAgent',
    metadata: { name: 'a' },
    spec: {
      agent: { provider: 'echo' },
      telephony: {
        twilio: {
          accountSidSecretRef: { name: 't', key: 'sid' },
          authTokenSecretRef: { name: 't', key: 'tok' },
        },
        publicBaseUrl: 'https://x.example.com',
      },
    },
  };

  test('applies the documented defaults', () => {
    const r = parseVoiceAgent(minimal);
    assert.ok(r.ok);
    const s = r.value.spec;
    assert.equal(s.telephony.mode, 'twilio-stream');
    assert.equal(s.calls.maxConcurrentPerPod, 20);
    assert.equal(s.calls.maxDurationSeconds, 900);
    assert.equal(s.calls.silenceTimeoutSeconds, 30);
    assert.equal(s.autoscaling.minReplicas, 2);
    assert.equal(s.autoscaling.maxReplicas, 10);
    assert.equal(s.autoscaling.targetCPUUtilization, 60);
    assert.equal(s.autoscaling.engine, 'hpa');
    assert.equal(s.drain.preStopSeconds, 5);
    assert.equal(drainGracePeriodSeconds(s), 960);
    assert.equal(s.rollout.autoRollback, true);
    assert.equal(s.replicas, 2);

    const m = parseMemoryStore({
      apiVersion: 'callfleet.io/v1alpha1',
      kind: 'MemoryStore',
      metadata: { name: 'm' },
    });
    assert.ok(m.ok);
    assert.equal(m.value.spec.engine, 'postgres');
    assert.equal(m.value.spec.deletionPolicy, 'Retain');
  });

  test('memory lookup budget defaults to 150 ms', () => {
    const r = parseVoiceAgent({
      ...minimal,
      spec: { ...minimal.spec, memory: { storeRef: { name: 'callers' } } },
    });
    assert.ok(r.ok);
    assert.equal(r.value.spec.memory?.lookupBudgetMs, 150);
  });

  test('paths are dotted with list indices like the API server', () => {
    assert.equal(
      formatPath(['spec', 'autoscaling', 'schedule', 1, 'name']),
      'spec.autoscaling.schedule[1].name',
    );
    const dup = {
      ...minimal,
      spec: {
        ...minimal.spec,
        autoscaling: {
          schedule: [
            { name: 'peak', days: ['Mon'], start: '09:00', end: '17:00', minReplicas: 3 },
            { name: 'peak', days: ['Tue'], start: '09:00', end: '17:00', minReplicas: 3 },
          ],
        },
      },
    };
    const r = parseVoiceAgent(dup);
    assert.ok(!r.ok);
    assert.equal(r.issues[0]?.path, 'spec.autoscaling.schedule[1]');
  });

  test('status written by the operator parses', () => {
    const r = parseVoiceAgent({
      ...minimal,
      status: {
        observedGeneration: 1,
        replicas: 2,
        selector: 'callfleet.io/voiceagent=a',
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'Ok',
            message: '',
            lastTransitionTime: '2026-01-01T00:00:00Z',
          },
        ],
      },
    });
    assert.ok(r.ok, JSON.stringify(!r.ok && r.issues));
  });
});

describe('celRefine', () => {
  test('one call registers the zod refinement and the CEL rule with the same message and path', () => {
    const base = z.object({ a: z.int(), b: z.int() });
    const once = celRefine(
      base,
      { rule: 'self.a <= self.b', message: 'a <= b', fieldPath: '.a' },
      (v) => v.a <= v.b,
    );
    const twice = celRefine(once, { rule: 'self.a > 0', message: 'a > 0' }, (v) => v.a > 0).describe('x');
    assert.deepEqual(celRulesOf(twice), [
      { rule: 'self.a <= self.b', message: 'a <= b', fieldPath: '.a' },
      { rule: 'self.a > 0', message: 'a > 0' },
    ]);
    const json = z.toJSONSchema(twice, { target: 'openapi-3.0' }) as Record<string, unknown>;
    assert.equal((json[CEL_KEY] as unknown[]).length, 2);
    const r = twice.safeParse({ a: 3, b: 2 });
    assert.ok(!r.success);
    assert.deepEqual(r.error.issues[0]?.path, ['a']);
    assert.equal(r.error.issues[0]?.message, 'a <= b');
  });
});
