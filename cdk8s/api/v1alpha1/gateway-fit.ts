// What fits the gateway pods to a cluster: pull secrets, the ServiceAccount's annotations (IRSA, Workload
// Identity), extra env / envFrom / volumes / mounts, a topology-spread override, extra egress rules.
// Everything the gateway itself relies on (its config volume, /tmp, PORT, CALLFLEET_* and the secret env
// names) is reserved, so a passthrough can add to the pod but never replace what the operator owns.
import { z } from 'zod';
import { celChecks } from '../cel.ts';
import { objectName, passthrough, stringMap } from './common.ts';

/** Env names the operator sets (PORT, HOST) or the gateway reads from secrets; plus the CALLFLEET_ prefix. */
export const RESERVED_ENV = [
  'PORT',
  'HOST',
  'TWILIO_AUTH_TOKEN',
  'TWILIO_ACCOUNT_SID',
  'ELEVENLABS_API_KEY',
  'OPENAI_API_KEY',
  'AGENT_WEBSOCKET_TOKEN',
] as const;
export const RESERVED_ENV_PREFIX = 'CALLFLEET_';
export const RESERVED_VOLUMES = ['config', 'tmp'] as const;
export const RESERVED_MOUNT_PATHS = ['/etc/callfleet', '/tmp'] as const;

const celList = (values: readonly string[]) => `[${values.map((v) => `'${v}'`).join(', ')}]`;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

export const ImagePullSecretsSchema = z
  .array(z.strictObject({ name: objectName('Name of a Secret of type kubernetes.io/dockerconfigjson.') }))
  .max(16)
  .describe(
    "Secrets (in the VoiceAgent's namespace) for pulling the gateway image; default: the operator's, from the chart's imagePullSecrets.",
  );

export const GatewayServiceAccountSchema = z
  .strictObject({
    annotations: stringMap(
      'Annotations on the gateway ServiceAccount, e.g. eks.amazonaws.com/role-arn (IRSA) or iam.gke.io/gcp-service-account (GKE Workload Identity).',
    ).optional(),
    labels: stringMap('Extra labels on the gateway ServiceAccount.').optional(),
  })
  .describe('The gateway ServiceAccount the operator creates per VoiceAgent (its name is <name>-gateway).');

const EnvVarSchema = z
  .looseObject({
    name: z.string().min(1).max(256).regex(ENV_NAME).describe('Name of the environment variable.'),
  })
  .meta({
    description:
      'A core/v1 EnvVar (value or valueFrom), e.g. HTTPS_PROXY, NO_PROXY or NODE_EXTRA_CA_CERTS. PORT, HOST, the secret variables and CALLFLEET_* are reserved.',
    'x-kubernetes-preserve-unknown-fields': true,
  });

const VolumeSchema = z
  .looseObject({ name: z.string().min(1).max(63).describe('Name of the volume (not config or tmp).') })
  .meta({ description: 'A core/v1 Volume.', 'x-kubernetes-preserve-unknown-fields': true });

const VolumeMountSchema = z
  .looseObject({
    name: z.string().min(1).max(63).describe('Name of a volume in podTemplate.volumes.'),
    mountPath: z.string().min(1).max(1024).describe('Where to mount it (not /etc/callfleet or /tmp).'),
  })
  .meta({
    description: 'A core/v1 VolumeMount of the gateway container.',
    'x-kubernetes-preserve-unknown-fields': true,
  });

/** The fields added to podTemplate (spread into PodTemplateSchema). */
export const podFitFields = {
  serviceAccount: GatewayServiceAccountSchema.optional(),
  env: z
    .array(EnvVarSchema)
    .max(64)
    .optional()
    .describe('Extra environment variables of the gateway container (core/v1 EnvVar list).'),
  envFrom: z
    .array(passthrough('A core/v1 EnvFromSource (configMapRef or secretRef).'))
    .max(16)
    .optional()
    .describe(
      'Extra environment of the gateway container from ConfigMaps or Secrets (core/v1 EnvFromSource list).',
    ),
  volumes: z
    .array(VolumeSchema)
    .max(32)
    .optional()
    .describe('Extra volumes of the gateway pods, e.g. a ConfigMap with a corporate CA bundle.'),
  volumeMounts: z
    .array(VolumeMountSchema)
    .max(32)
    .optional()
    .describe('Extra volume mounts of the gateway container; each names a volume in podTemplate.volumes.'),
  topologySpreadConstraints: z
    .array(passthrough('A core/v1 TopologySpreadConstraint.'))
    .max(8)
    .optional()
    .describe(
      'Replaces the default spread (zones, then nodes, ScheduleAnyway); the gateway selector is added to each constraint without a labelSelector.',
    ),
};

interface PodFit {
  env?: { name: string }[];
  volumes?: { name: string }[];
  volumeMounts?: { name: string; mountPath: string }[];
}

/** The CEL rules of the podTemplate passthroughs (reserved names, mounts naming a volume). */
export function refinePodFit<T extends z.ZodType<PodFit>>(schema: T): T {
  return celChecks(
    schema,
    {
      rule: `!has(self.env) || self.env.all(e, !(e.name in ${celList(RESERVED_ENV)}) && !e.name.startsWith('${RESERVED_ENV_PREFIX}'))`,
      message: `env: ${RESERVED_ENV.join(', ')} and ${RESERVED_ENV_PREFIX}* are set by the operator`,
      fieldPath: '.env',
      holds: (p) =>
        (p.env ?? []).every(
          (e) =>
            !(RESERVED_ENV as readonly string[]).includes(e.name) && !e.name.startsWith(RESERVED_ENV_PREFIX),
        ),
    },
    {
      rule: `!has(self.volumes) || self.volumes.all(v, !(v.name in ${celList(RESERVED_VOLUMES)}))`,
      message: `volumes: ${RESERVED_VOLUMES.join(' and ')} are the gateway's own volumes`,
      fieldPath: '.volumes',
      holds: (p) => (p.volumes ?? []).every((v) => !(RESERVED_VOLUMES as readonly string[]).includes(v.name)),
    },
    {
      rule: `!has(self.volumeMounts) || self.volumeMounts.all(m, !(m.mountPath in ${celList(RESERVED_MOUNT_PATHS)}))`,
      message: `volumeMounts: ${RESERVED_MOUNT_PATHS.join(' and ')} are the gateway's own mounts`,
      fieldPath: '.volumeMounts',
      holds: (p) =>
        (p.volumeMounts ?? []).every(
          (m) => !(RESERVED_MOUNT_PATHS as readonly string[]).includes(m.mountPath),
        ),
    },
    {
      rule: '!has(self.volumeMounts) || self.volumeMounts.all(m, has(self.volumes) && self.volumes.exists(v, v.name == m.name))',
      message: 'volumeMounts: each mount must name a volume in podTemplate.volumes',
      fieldPath: '.volumeMounts',
      holds: (p) => (p.volumeMounts ?? []).every((m) => (p.volumes ?? []).some((v) => v.name === m.name)),
    },
  );
}
