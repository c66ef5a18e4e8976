// `callfleet operator --gateway-image* …`: what gateways run when a VoiceAgent names no image or pull secrets.
// The chart passes the operator's own image (registry mirror, tag or digest) and its pull secrets.
import type { GatewayDefaults } from '../../cdk8s/charts/voiceagent/model.ts';

const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'] as const;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** registry/path[:tag][@sha256:digest], as a container runtime accepts it. */
const IMAGE_REF =
  /^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-]{1,2}[a-z0-9]+)*)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;

/** Parses the flags; an error names the flag and what is wrong. */
export function parseGatewayDefaults(flags: {
  image?: string;
  pullPolicy?: string;
  pullSecrets?: string;
}): { ok: true; value: GatewayDefaults } | { ok: false; error: string } {
  const value: GatewayDefaults = {};
  if (flags.image !== undefined) {
    if (!IMAGE_REF.test(flags.image) || flags.image.length > 512)
      return {
        ok: false,
        error: `--gateway-image: "${flags.image}" is not an image reference (repository:tag or repository@sha256:digest)`,
      };
    value.image = flags.image;
  }
  if (flags.pullPolicy !== undefined) {
    if (!(PULL_POLICIES as readonly string[]).includes(flags.pullPolicy))
      return { ok: false, error: `--gateway-image-pull-policy: must be one of ${PULL_POLICIES.join(', ')}` };
    value.imagePullPolicy = flags.pullPolicy as GatewayDefaults['imagePullPolicy'];
  }
  if (flags.pullSecrets !== undefined) {
    const names = flags.pullSecrets
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean);
    const bad = names.find((n) => !DNS_SUBDOMAIN.test(n) || n.length > 253);
    if (bad) return { ok: false, error: `--gateway-image-pull-secrets: "${bad}" is not a Secret name` };
    value.imagePullSecrets = names;
  }
  return { ok: true, value };
}
