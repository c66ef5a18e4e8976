// Rule 10 (issue 15): no rendered Ingress or HTTPRoute reaches the gateways' internal port, the
// NetworkPolicy admits only the operator, Prometheus and spec.networkPolicy.internalFrom to it, and
// the ServiceMonitor scrapes it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseVoiceAgent } from '../../../cdk8s/api/v1alpha1/index.ts';
import { renderVoiceAgent } from '../../../cdk8s/charts/index.ts';
import { allExamples, minimalVoiceAgent, render } from './fixtures.ts';

// biome-ignore lint/suspicious/noExplicitAny: rendered objects of several kinds, read field by field
type Obj = KubernetesObject & { spec?: Record<string, any> };
type PortRef = { name?: string; number?: number } | number | undefined;

/** Every (service, port) an Ingress or HTTPRoute sends traffic to. */
function backends(objects: Obj[]): { from: string; service: string; port: PortRef }[] {
  const out: { from: string; service: string; port: PortRef }[] = [];
  for (const o of objects) {
    const from = `${o.kind}/${o.metadata?.name}`;
    if (o.kind === 'Ingress') {
      const def = o.spec?.defaultBackend?.service;
      if (def) out.push({ from, service: def.name, port: def.port });
      for (const rule of o.spec?.rules ?? [])
        for (const p of rule.http?.paths ?? [])
          out.push({ from, service: p.backend.service.name, port: p.backend.service.port });
    }
    if (o.kind === 'HTTPRoute') {
      for (const rule of o.spec?.rules ?? [])
        for (const b of rule.backendRefs ?? []) out.push({ from, service: b.name, port: b.port });
    }
  }
  return out;
}

/** The container port a Service port (by name or number) ends up on. */
function targetPort(objects: Obj[], service: string, port: PortRef): number | string | undefined {
  const svc = objects.find((o) => o.kind === 'Service' && o.metadata?.name === service);
  assert.ok(svc, `Service ${service} is rendered`);
  const ports = (svc.spec?.ports ?? []) as { name?: string; port: number; targetPort?: number | string }[];
  const p =
    typeof port === 'number'
      ? ports.find((x) => x.port === port)
      : ports.find((x) => (port?.name ? x.name === port.name : x.port === port?.number));
  assert.ok(p, `${service} has port ${JSON.stringify(port)}`);
  return p.targetPort ?? p.port;
}

describe('two doors: rendered objects', () => {
  const examples = allExamples();
  for (const example of examples) {
    const objects = render(example) as Obj[];
    if (!objects.some((o) => o.kind === 'Deployment' && o.metadata?.name)) continue;
    it(`${example.name}: every Ingress/HTTPRoute backend is the public port, never the internal one`, () => {
      const refs = backends(objects);
      for (const ref of refs) {
        const target = targetPort(objects, ref.service, ref.port);
        assert.ok(target === 8080 || target === 'http', `${ref.from} → ${ref.service}:${target}`);
        assert.notEqual(target, 9090);
        assert.notEqual(target, 'internal');
        assert.doesNotMatch(ref.service, /-metrics$/);
      }
      // The headless metrics Service carries only the internal port and nothing routes to it.
      for (const svc of objects.filter(
        (o) => o.kind === 'Service' && /-metrics$/.test(o.metadata?.name ?? ''),
      )) {
        assert.deepEqual(
          svc.spec?.ports.map((p: { port: number }) => p.port),
          [9090],
        );
        assert.ok(!refs.some((r) => r.service === svc.metadata?.name));
      }
    });
  }
  it('covers every ingress flavour', () => {
    const kinds = new Set(
      examples.flatMap((e) => backends(render(e) as Obj[]).map((b) => b.from.split('/')[0])),
    );
    assert.deepEqual([...kinds].sort(), ['HTTPRoute', 'Ingress']);
  });
});

describe('two doors: the NetworkPolicy of the internal port', () => {
  const va = (extra: Record<string, unknown>) => {
    const r = parseVoiceAgent(minimalVoiceAgent('np', 'voice', extra));
    assert.ok(r.ok, JSON.stringify(!r.ok && r.issues));
    return r.value;
  };
  const internalRule = (objects: Obj[]) => {
    const np = objects.find((o) => o.kind === 'NetworkPolicy');
    return ((np?.spec?.ingress ?? []) as { from?: unknown[]; ports: { port: number }[] }[]).find(
      (r) => r.ports[0]?.port === 9090,
    );
  };

  it('admits the operator namespace the operator names, Prometheus and internalFrom peers', () => {
    const r = renderVoiceAgent(
      va({
        monitoring: { prometheusNamespace: 'monitoring' },
        networkPolicy: {
          internalFrom: [
            { namespace: 'dsr-tools' },
            { namespace: 'ops', podLabels: { app: 'audit' } },
            { podLabels: { app: 'sidecar-scraper' } },
          ],
        },
      }),
      { operatorNamespace: 'platform-operators' },
    );
    assert.ok(r.ok);
    const ns = (name: string) => ({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': name } },
    });
    assert.deepEqual(internalRule(r.objects as Obj[])?.from, [
      ns('platform-operators'),
      ns('monitoring'),
      ns('dsr-tools'),
      { ...ns('ops'), podSelector: { matchLabels: { app: 'audit' } } },
      { podSelector: { matchLabels: { app: 'sidecar-scraper' } } },
    ]);
  });

  it('defaults to callfleet-system only; never an empty (= everyone) peer list', () => {
    const r = renderVoiceAgent(va({}));
    assert.ok(r.ok);
    const rule = internalRule(r.objects as Obj[]);
    assert.deepEqual(rule?.from, [
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'callfleet-system' } } },
    ]);
  });
});
