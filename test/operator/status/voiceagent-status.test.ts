// The status view's pod states and text layout, from pods as the operator's call tracker marks them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import {
  formatVoiceAgentStatus,
  podState,
  type VoiceAgentStatusReport,
} from '../../../operator/status/voiceagent-status.ts';

const pod = (labels: Record<string, string>, deleting = false): V1Pod => ({
  metadata: { name: 'p', labels, ...(deleting ? { deletionTimestamp: new Date() } : {}) },
});

describe('callfleet status voiceagent', () => {
  it('pod state: draining wins, then not serving (cordoned), busy, idle; unknown before the first poll', () => {
    assert.equal(podState(pod({ 'callfleet.io/busy': 'true' }, true)), 'draining');
    assert.equal(
      podState(pod({ 'callfleet.io/busy': 'true', 'callfleet.io/serving': 'false' })),
      'not serving',
    );
    assert.equal(podState(pod({ 'callfleet.io/busy': 'true', 'callfleet.io/serving': 'true' })), 'busy');
    assert.equal(podState(pod({ 'callfleet.io/serving': 'true' })), 'idle');
    assert.equal(podState(pod({ 'callfleet.io/busy': 'false' })), 'idle', 'a pod from an older template');
    assert.equal(podState(pod({})), 'unknown');
  });

  it('prints conditions, aligned tables and the empty sections', () => {
    const now = Date.parse('2026-01-01T00:10:00Z');
    const report: VoiceAgentStatusReport = {
      name: 'booking',
      namespace: 'voice',
      generation: 3,
      observedGeneration: 3,
      provider: 'echo',
      fleet: { desired: 2, ready: 2, busy: 1, draining: 0, calls: 4 },
      webhookUrl: 'https://calls.example.com/twilio/voice',
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Available',
          message: '2/2 gateway pods available, 2 updated',
          lastTransitionTime: '2026-01-01T00:05:00Z',
        },
      ],
      pods: [
        {
          name: 'booking-abc-1',
          phase: 'Running',
          ready: true,
          state: 'busy',
          calls: 4,
          template: 'abc',
          node: 'n1',
          age: '5m',
        },
        {
          name: 'booking-abc-22',
          phase: 'Running',
          ready: true,
          state: 'idle',
          calls: 0,
          template: 'abc',
          node: 'n2',
          age: '5m',
        },
      ],
      rollouts: [
        { revision: 1, template: 'abc', pods: '2/2 ready, 2 live', created: '5m', notes: ['current'] },
      ],
      rollbacks: [],
      events: [],
    };
    const text = formatVoiceAgentStatus(report, now);
    assert.match(text, /^Fleet: +desired 2, ready 2, busy 1, draining 0, live calls 4$/m);
    assert.match(
      text,
      /^ {2}Ready: True, Reason: Available \(for 5m\), Message: 2\/2 gateway pods available/m,
    );
    const rows = text.split('\n').filter((l) => l.startsWith('  booking-abc-'));
    assert.equal(rows.length, 2);
    // Columns line up: the STATE column starts at the same offset on both rows.
    assert.equal(rows[0]?.indexOf('busy'), rows[1]?.indexOf('idle'));
    assert.match(text, /^Rollbacks:\n {2}\(none in the retained events\)$/m);
    assert.match(text, /^Events:\n {2}\(none\)$/m);
  });
});
