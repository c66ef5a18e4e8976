// Issue 17: the Ingress / HTTPRoute fitted to the cluster: IngressClass name apart from the flavour, annotation
// passthrough (cert-manager, external-dns, WAF) winning over the operator's own, ALB HTTPS with an ACM
// certificate and redirect, GKE static IP and ManagedCertificate; wrong combinations refused with their path.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseVoiceAgent } from '../../../cdk8s/api/v1alpha1/index.ts';
import { FITTED_INGRESS, find, type Obj, ROOT, readDocs, render, variants } from './fixtures.ts';

const objectsOf = (name: string) =>
  render(variants().find((v) => v.name === `variant-${name}`) ?? { name, docs: [] }) as Obj[];
const annotations = (o: Obj | undefined) => o?.metadata?.annotations ?? {};

function issues(ingress: Record<string, unknown>): string[] {
  const base = readDocs(`${ROOT}examples/voiceagent-echo.yaml`)[0] as { spec: Record<string, unknown> };
  const parsed = parseVoiceAgent({ ...base, metadata: { name: 'x' }, spec: { ...base.spec, ingress } });
  assert.equal(parsed.ok, false, 'refused');
  return parsed.ok ? [] : parsed.issues.map((i) => `${i.path}: ${i.message}`);
}

describe('ingress fitted to the cluster', () => {
  it('nginx: both Ingresses use the named IngressClass and carry cert-manager / external-dns annotations', () => {
    const ingresses = find(objectsOf('fitted'), 'Ingress');
    assert.equal(ingresses.length, 2);
    for (const ingress of ingresses) {
      assert.equal(ingress.spec.ingressClassName, 'internal-nginx');
      assert.equal(annotations(ingress)['cert-manager.io/cluster-issuer'], 'letsencrypt-prod');
      assert.equal(annotations(ingress)['external-dns.alpha.kubernetes.io/ttl'], '60');
      assert.equal(annotations(ingress)['nginx.ingress.kubernetes.io/proxy-body-size'], '1m');
      assert.deepEqual(ingress.spec.tls, [{ hosts: ['fitted.example.com'], secretName: 'fitted-tls' }]);
    }
    // The operator's own stream timeout is still there.
    const streams = ingresses.find((i) => annotations(i)['nginx.ingress.kubernetes.io/upstream-hash-by']);
    assert.equal(annotations(streams)['nginx.ingress.kubernetes.io/proxy-read-timeout'], '3600');
  });

  it('ALB: HTTPS with the ACM certificate, redirect from 80, IngressGroup, class name, WAF by annotation', () => {
    const [ingress] = find(objectsOf('alb-https'), 'Ingress');
    const a = annotations(ingress);
    assert.equal(ingress?.spec.ingressClassName, 'alb-internet');
    assert.equal(a['alb.ingress.kubernetes.io/certificate-arn'], FITTED_INGRESS.alb.alb.certificateArn);
    assert.equal(a['alb.ingress.kubernetes.io/listen-ports'], '[{"HTTP":80},{"HTTPS":443}]');
    assert.equal(a['alb.ingress.kubernetes.io/ssl-redirect'], '443');
    assert.equal(a['alb.ingress.kubernetes.io/group.name'], 'voice');
    assert.equal(a['alb.ingress.kubernetes.io/scheme'], 'internet-facing');
    assert.match(a['alb.ingress.kubernetes.io/wafv2-acl-arn'] ?? '', /^arn:aws:wafv2:/);
  });

  it('ALB: internal scheme, no redirect; a passthrough annotation wins over the operator default', () => {
    const base = variants().find((v) => v.name === 'variant-alb-https');
    const doc = structuredClone(base?.docs[0]) as { spec: { ingress: Record<string, unknown> } };
    doc.spec.ingress.alb = {
      certificateArn: FITTED_INGRESS.alb.alb.certificateArn,
      scheme: 'internal',
      sslRedirect: false,
    };
    doc.spec.ingress.annotations = { 'alb.ingress.kubernetes.io/healthcheck-path': '/health' };
    const [ingress] = find(render({ name: 'alb-internal', docs: [doc] }) as Obj[], 'Ingress');
    const a = annotations(ingress);
    assert.equal(a['alb.ingress.kubernetes.io/scheme'], 'internal');
    assert.equal(a['alb.ingress.kubernetes.io/listen-ports'], '[{"HTTPS":443}]');
    assert.equal(a['alb.ingress.kubernetes.io/ssl-redirect'], undefined);
    assert.equal(a['alb.ingress.kubernetes.io/healthcheck-path'], '/health');
  });

  it('GCE: a ManagedCertificate for the host, attached; the static IP; the annotation passthrough', () => {
    const objects = objectsOf('gce-managed');
    const [cert] = find(objects, 'ManagedCertificate');
    assert.equal(cert?.apiVersion, 'networking.gke.io/v1');
    assert.deepEqual(cert?.spec, { domains: ['gce-managed.example.com'] });
    assert.equal(cert?.metadata?.labels?.['app.kubernetes.io/managed-by'], 'callfleet-operator');
    const a = annotations(find(objects, 'Ingress')[0]);
    assert.equal(a['networking.gke.io/managed-certificates'], cert?.metadata?.name);
    assert.equal(a['kubernetes.io/ingress.global-static-ip-name'], 'voice-ip');
    assert.equal(a['kubernetes.io/ingress.allow-http'], 'false');
    assert.equal(a['kubernetes.io/ingress.class'], 'gce');
    assert.equal(find(objectsOf('gce'), 'ManagedCertificate').length, 0, 'only when asked for');
  });

  it('Gateway API: the HTTPRoute carries the passthrough annotations (external-dns)', () => {
    const [route] = find(objectsOf('gateway-annotated'), 'HTTPRoute');
    assert.equal(annotations(route)['external-dns.alpha.kubernetes.io/hostname'], 'gw-annotated.example.com');
    assert.ok(annotations(route)['callfleet.io/stickiness']);
  });

  it('refuses flavour settings on the wrong flavour, a class name without a flavour, a malformed ARN', () => {
    assert.ok(
      issues({ host: 'a.example.com', className: 'nginx', alb: {} }).some((i) =>
        i.startsWith('spec.ingress.alb:'),
      ),
    );
    assert.ok(
      issues({ host: 'a.example.com', className: 'alb', gce: { staticIpName: 'ip' } }).some((i) =>
        i.startsWith('spec.ingress.gce:'),
      ),
    );
    assert.ok(
      issues({ host: 'a.example.com', gatewayRef: { name: 'gw' }, ingressClassName: 'x' }).some((i) =>
        i.startsWith('spec.ingress.ingressClassName:'),
      ),
    );
    assert.ok(
      issues({
        host: 'a.example.com',
        className: 'alb',
        alb: { certificateArn: 'arn:aws:iam::1:role/x' },
      }).some((i) => i.startsWith('spec.ingress.alb.certificateArn')),
    );
  });
});
