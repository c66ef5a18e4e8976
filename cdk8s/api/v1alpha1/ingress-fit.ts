// What fits the Ingress / HTTPRoute to a cluster: the IngressClass name apart from the flavour, annotation
// passthrough (cert-manager, external-dns, ALB group / WAF...), ALB HTTPS with an ACM certificate and redirect,
// GKE's managed certificate and static IP.
import { z } from 'zod';
import { celChecks } from '../cel.ts';
import { DNS_SUBDOMAIN, stringMap } from './common.ts';

const ACM_ARN = /^arn:aws[-a-z]*:acm:[a-z0-9-]+:\d{12}:certificate\/[-a-zA-Z0-9]+$/;

export const AlbIngressSchema = z
  .strictObject({
    scheme: z
      .enum(['internet-facing', 'internal'])
      .default('internet-facing')
      .describe(
        'Load balancer scheme: internet-facing (Twilio must reach it) or internal (behind your own edge).',
      ),
    certificateArn: z
      .string()
      .max(2048)
      .regex(ACM_ARN)
      .optional()
      .describe(
        'ACM certificate for HTTPS (listen on 443; without it the controller discovers one by host).',
      ),
    sslRedirect: z
      .boolean()
      .default(true)
      .describe('With HTTPS: also listen on 80 and redirect to 443 (Twilio only ever calls the https URL).'),
    groupName: z
      .string()
      .min(1)
      .max(63)
      .regex(/^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/)
      .optional()
      .describe(
        'IngressGroup: share one ALB with other Ingresses of the group (alb.ingress.kubernetes.io/group.name).',
      ),
  })
  .describe('AWS Load Balancer Controller settings; only with className alb.');

export const GceIngressSchema = z
  .strictObject({
    staticIpName: z
      .string()
      .min(1)
      .max(63)
      .regex(/^[a-z]([-a-z0-9]*[a-z0-9])?$/)
      .optional()
      .describe('Name of a reserved global static IP (kubernetes.io/ingress.global-static-ip-name).'),
    managedCertificate: z
      .boolean()
      .default(false)
      .describe(
        'Create a GKE ManagedCertificate for the host and attach it (networking.gke.io/managed-certificates).',
      ),
  })
  .describe('GKE Ingress settings; only with className gce.');

/** Fields added to the ingress block (spread into its strictObject). */
export const ingressFitFields = {
  ingressClassName: z
    .string()
    .min(1)
    .max(253)
    .regex(DNS_SUBDOMAIN)
    .optional()
    .describe(
      'IngressClass to use when it is not named like the flavour (e.g. internal-nginx); className still chooses the flavour (its annotations and extra objects).',
    ),
  annotations: stringMap(
    "Extra annotations on the Ingress or HTTPRoute, e.g. cert-manager.io/cluster-issuer, external-dns.alpha.kubernetes.io/hostname, alb.ingress.kubernetes.io/wafv2-acl-arn; they win over the operator's own of the same key.",
  ).optional(),
  alb: AlbIngressSchema.optional(),
  gce: GceIngressSchema.optional(),
};

interface IngressFit {
  className?: string;
  gatewayRef?: unknown;
  ingressClassName?: string;
  alb?: unknown;
  gce?: unknown;
}

export function refineIngressFit<T extends z.ZodType<IngressFit>>(schema: T): T {
  return celChecks(
    schema,
    {
      rule: "!has(self.alb) || (has(self.className) && self.className == 'alb')",
      message: 'alb settings require className alb',
      fieldPath: '.alb',
      holds: (i) => i.alb === undefined || i.className === 'alb',
    },
    {
      rule: "!has(self.gce) || (has(self.className) && self.className == 'gce')",
      message: 'gce settings require className gce',
      fieldPath: '.gce',
      holds: (i) => i.gce === undefined || i.className === 'gce',
    },
    {
      rule: '!has(self.ingressClassName) || has(self.className)',
      message: 'ingressClassName requires className (the flavour); a gatewayRef has no IngressClass',
      fieldPath: '.ingressClassName',
      holds: (i) => i.ingressClassName === undefined || i.className !== undefined,
    },
  );
}
