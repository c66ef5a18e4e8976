// Monitoring labels: chart-wide ones (operator flag) and a VoiceAgent's own reach its ServiceMonitor and
// PrometheusRule (so kube-prometheus-stack's `release:` selector picks them up); callfleet's labels stay.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseVoiceAgent } from '../../../cdk8s/api/v1alpha1/index.ts';
import { renderVoiceAgent } from '../../../cdk8s/charts/index.ts';
import { parseLabels } from '../../../operator/cli/operator.ts';
import { minimalVoiceAgent } from './fixtures.ts';

function render(monitoring: Record<string, unknown>, monitoringLabels?: Record<string, string>) {
  const parsed = parseVoiceAgent(
    minimalVoiceAgent(
      'echo',
      'voice',
      { monitoring: { serviceMonitor: true, prometheusRule: true, ...monitoring } },
      '00000000-0000-4000-8000-000000000002',
    ),
  );
  assert.ok(parsed.ok);
  const rendered = renderVoiceAgent(parsed.value, { monitoringLabels });
  assert.ok(rendered.ok);
  return rendered.objects.filter((o) => o.kind === 'ServiceMonitor' || o.kind === 'PrometheusRule');
}

describe('VoiceAgent monitoring labels', () => {
  it('chart-wide labels, overridden by the VoiceAgent, never over callfleet labels', () => {
    const monitors = render(
      { labels: { team: 'booking' } },
      { release: 'kube-prometheus-stack', team: 'voice', 'app.kubernetes.io/part-of': 'other' },
    );
    assert.equal(monitors.length, 2);
    for (const m of monitors) {
      assert.equal(m.metadata?.labels?.release, 'kube-prometheus-stack', m.kind);
      assert.equal(m.metadata?.labels?.team, 'booking', m.kind);
      assert.equal(m.metadata?.labels?.['app.kubernetes.io/part-of'], 'callfleet', m.kind);
    }
  });

  it('labels without a ServiceMonitor or PrometheusRule are refused, naming the field', () => {
    const parsed = parseVoiceAgent({
      apiVersion: 'callfleet.io/v1alpha1',
      kind: 'VoiceAgent',
      metadata: { name: 'echo', namespace: 'voice' },
      spec: {
        agent: { provider: 'echo' },
        telephony: { publicBaseUrl: 'https://calls.example.com' },
        monitoring: { labels: { release: 'x' } },
      },
    });
    assert.ok(!parsed.ok);
    assert.ok(
      parsed.issues.some((i) => i.path === 'spec.monitoring.labels'),
      JSON.stringify(parsed.issues),
    );
  });

  it('the operator flag is parsed strictly', () => {
    assert.deepEqual(parseLabels('release=kps,team=voice,'), { release: 'kps', team: 'voice' });
    assert.deepEqual(parseLabels(''), {});
    assert.match(String(parseLabels('release')), /release: expected key=value/);
    assert.match(String(parseLabels('bad key=x')), /not a valid label key/);
    assert.match(String(parseLabels('release=a b')), /not a valid label value/);
  });
});
