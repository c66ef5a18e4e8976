// drain.handoff in the rendered children: with a MemoryStore the grace period shrinks to
// preStop + hand-off deadline + margin and the gateway config carries the hand-off; without one
// (the gateway would drain as before) nothing changes.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  drainGracePeriodSeconds,
  HANDOFF_MARGIN_SECONDS,
  parseVoiceAgent,
  type VoiceAgent,
} from '../../../cdk8s/api/v1alpha1/index.ts';
import { renderVoiceAgent } from '../../../cdk8s/charts/index.ts';
import { gatewayConfigSchema } from '../../../voice-gateway/config/schema.ts';
import { EXAMPLES, find, type Obj, readDocs } from './fixtures.ts';

function agent(file: string, drain: Record<string, unknown>): VoiceAgent {
  const doc = readDocs(join(EXAMPLES, file))[0] as { spec: Record<string, unknown> };
  const parsed = parseVoiceAgent({ ...doc, spec: { ...doc.spec, drain } });
  assert.ok(parsed.ok, JSON.stringify(parsed));
  return parsed.value;
}

function rendered(va: VoiceAgent) {
  const r = renderVoiceAgent(va, {});
  assert.ok(r.ok, JSON.stringify(r));
  const deployment = find(r.objects, 'Deployment')[0] as Obj;
  const cm = find(r.objects, 'ConfigMap')[0] as Obj;
  return {
    grace: deployment.spec.template.spec.terminationGracePeriodSeconds as number,
    config: gatewayConfigSchema.parse(JSON.parse(cm.data['gateway.json'])),
  };
}

describe('VoiceAgent drain.handoff', () => {
  it('with a MemoryStore: grace = preStop + deadline + margin, the gateway hands off at the deadline', () => {
    const va = agent('voiceagent-elevenlabs-stream.yaml', {
      preStopSeconds: 5,
      handoff: { enabled: true, deadlineSeconds: 60 },
    });
    assert.ok(va.spec.memory, 'the example has a MemoryStore');
    const { grace, config } = rendered(va);
    assert.equal(grace, 5 + 60 + HANDOFF_MARGIN_SECONDS);
    assert.equal(grace, drainGracePeriodSeconds(va.spec));
    assert.ok(grace < va.spec.calls.maxDurationSeconds, 'shorter than the longest call');
    assert.deepEqual(config.drain.handoff, { enabled: true, deadlineSeconds: 60 });
    // The gateway's clock starts at SIGTERM, after the preStop sleep.
    assert.equal(config.drain.gracePeriodSeconds, grace - 5);
    assert.ok(
      config.drain.handoff.deadlineSeconds <
        config.drain.gracePeriodSeconds - config.drain.goodbyeLeadSeconds,
    );
  });

  it('an explicit gracePeriodSeconds wins', () => {
    const va = agent('voiceagent-elevenlabs-stream.yaml', {
      gracePeriodSeconds: 1000,
      handoff: { enabled: true, deadlineSeconds: 60 },
    });
    assert.equal(rendered(va).grace, 1000);
  });

  it('without a MemoryStore (nothing to carry the conversation) or with hand-off off: plain draining', () => {
    for (const va of [
      agent('voiceagent-echo.yaml', { handoff: { enabled: true, deadlineSeconds: 60 } }),
      agent('voiceagent-elevenlabs-stream.yaml', { handoff: { enabled: false, deadlineSeconds: 60 } }),
    ]) {
      const { grace, config } = rendered(va);
      assert.equal(grace, va.spec.calls.maxDurationSeconds + 60);
      assert.equal(config.drain.handoff, undefined);
    }
  });
});
