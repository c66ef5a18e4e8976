// The Ingress / HTTPRoute fitted to the cluster, after the flavour rendered it: the IngressClass name, ALB HTTPS
// (ACM certificate, redirect, scheme, IngressGroup), GKE static IP and ManagedCertificate, then the spec's own
// annotations (cert-manager, external-dns, WAF...), which win over the operator's of the same key.
import { type Chart, JsonPatch } from 'cdk8s';
import { child } from '../children.ts';
import { patchOutput } from '../synth.ts';
import type { VoiceAgentModel } from './model.ts';

const ALB = 'alb.ingress.kubernetes.io';
export const GKE_MANAGED_CERTIFICATES = 'networking.gke.io/managed-certificates';
export const GKE_STATIC_IP = 'kubernetes.io/ingress.global-static-ip-name';

const pointer = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1');
const annotation = (key: string, value: string) =>
  JsonPatch.add(`/metadata/annotations/${pointer(key)}`, value);

/** Name of the ManagedCertificate of a VoiceAgent (GKE, ingress.gce.managedCertificate). */
export const managedCertificateName = (m: VoiceAgentModel) => `${m.names.ingress}-cert`;

export function fitIngress(chart: Chart, m: VoiceAgentModel): void {
  const ingress = m.spec.ingress;
  if (!ingress) return;
  const own = Object.entries(ingress.annotations ?? {}).map(([k, v]) => annotation(k, v));
  if (ingress.gatewayRef) {
    if (own.length) patchOutput(chart, 'HTTPRoute', m.names.httpRoute, ...own);
    return;
  }
  const patches: JsonPatch[] = [];
  const className = ingress.ingressClassName;
  if (ingress.className === 'alb') {
    const alb = ingress.alb;
    if (className) patches.push(JsonPatch.replace('/spec/ingressClassName', className));
    if (alb) {
      patches.push(annotation(`${ALB}/scheme`, alb.scheme));
      if (alb.groupName) patches.push(annotation(`${ALB}/group.name`, alb.groupName));
      if (alb.certificateArn) {
        patches.push(annotation(`${ALB}/certificate-arn`, alb.certificateArn));
        patches.push(
          annotation(
            `${ALB}/listen-ports`,
            alb.sslRedirect ? '[{"HTTP":80},{"HTTPS":443}]' : '[{"HTTPS":443}]',
          ),
        );
        if (alb.sslRedirect) patches.push(annotation(`${ALB}/ssl-redirect`, '443'));
      }
    }
  }
  if (ingress.className === 'gce') {
    // ingress-gce reads the class from the annotation only.
    if (className) patches.push(annotation('kubernetes.io/ingress.class', className));
    if (ingress.gce?.staticIpName) patches.push(annotation(GKE_STATIC_IP, ingress.gce.staticIpName));
    if (ingress.gce?.managedCertificate) {
      child(chart, 'managedcertificate', 'ManagedCertificate', {
        metadata: { name: managedCertificateName(m), labels: m.labels('ingress') },
        spec: { domains: [ingress.host] },
      });
      patches.push(annotation(GKE_MANAGED_CERTIFICATES, managedCertificateName(m)));
    }
  }
  const names =
    ingress.className === 'nginx' ? [m.names.streamsIngress, m.names.webhooksIngress] : [m.names.ingress];
  for (const name of names) {
    const classPatch =
      ingress.className === 'nginx' && className
        ? [JsonPatch.replace('/spec/ingressClassName', className)]
        : [];
    patchOutput(chart, 'Ingress', name, ...classPatch, ...patches, ...own);
  }
}
