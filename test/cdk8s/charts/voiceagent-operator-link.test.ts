// The operator link in the rendered objects (ADR 0021): with the operator's --notice-url, every gateway
// gets CALLFLEET_OPERATOR_NOTICE_URL and its NetworkPolicy lets it reach the operator's namespace on that
// port; without it, nothing changes (the goldens).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Deployment, V1NetworkPolicy } from '@kubernetes/client-node';
import { parseVoiceAgent } from '../../../cdk8s/api/v1alpha1/index.ts';
import { renderVoiceAgent } from '../../../cdk8s/charts/index.ts';
import { minimalVoiceAgent } from './fixtures.ts';

function render(operatorNoticeUrl?: string) {
  const parsed = parseVoiceAgent(minimalVoiceAgent('echo', 'team'));
  assert.ok(parsed.ok);
  const r = renderVoiceAgent(parsed.value, { operatorNamespace: 'platform', operatorNoticeUrl });
  assert.ok(r.ok);
  const deployment = r.objects.find((o) => o.kind === 'Deployment') as V1Deployment;
  const policy = r.objects.find((o) => o.kind === 'NetworkPolicy') as V1NetworkPolicy;
  return { env: deployment.spec?.template.spec?.containers[0]?.env ?? [], egress: policy.spec?.egress ?? [] };
}

describe('operator link rendering', () => {
  it('renders the notice URL into the gateways and admits it in their egress', () => {
    const { env, egress } = render('http://callfleet-notices.platform.svc:8082/notices');
    assert.deepEqual(
      env.find((e) => e.name === 'CALLFLEET_OPERATOR_NOTICE_URL'),
      { name: 'CALLFLEET_OPERATOR_NOTICE_URL', value: 'http://callfleet-notices.platform.svc:8082/notices' },
    );
    assert.ok(env.some((e) => e.name === 'POD_NAME') && env.some((e) => e.name === 'POD_NAMESPACE'));
    assert.deepEqual(
      egress.find((r) => r.ports?.[0]?.port === 8082),
      {
        to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'platform' } } }],
        ports: [{ protocol: 'TCP', port: 8082 }],
      },
    );
  });

  it('without --notice-url: no notice env, no extra egress', () => {
    const { env, egress } = render();
    assert.equal(
      env.find((e) => e.name === 'CALLFLEET_OPERATOR_NOTICE_URL'),
      undefined,
    );
    assert.equal(
      egress.find((r) => r.ports?.some((p) => p.port === 8082)),
      undefined,
    );
  });
});
