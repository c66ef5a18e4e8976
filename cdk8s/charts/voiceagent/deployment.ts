// The gateway Deployment and its ServiceAccount. cdk8s-plus builds the pod; JsonPatch sets what it
// cannot express (preStop sleep, exact resources, topology spread, passthroughs) and removes its
// address label, so the output is exactly what the operator wants to own.
import { type Chart, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import pkg from '../../../package.json' with { type: 'json' };
import { GATEWAY_NODE_OPTIONS } from '../../../voice-gateway/node-options.ts';
import type { SecretKeySelector } from '../../api/v1alpha1/index.ts';
import { CONFIG_CHECKSUM_ANNOTATION } from '../labels.ts';
import { memoryCaEnv, memoryCaMount, memoryCaVolume } from '../memory-ca.ts';
import { bucketCredentialEnv } from '../object-storage.ts';
import { idleMarks } from '../pod-marks.ts';
import { patchOutput } from '../synth.ts';
import {
  CONFIG_DIR,
  CONFIG_FILE,
  GATEWAY_PORT,
  INTERNAL_PORT,
  INTERNAL_PORT_NAME,
  PORT_NAME,
  type VoiceAgentModel,
} from './model.ts';
import { gatewayImage, podFitPatches, topologySpread } from './pod-fit.ts';
import { streamKeyRef } from './stream-key.ts';

export const DEFAULT_IMAGE = `ghcr.io/callfleet/callfleet:${pkg.version}`;
export const DEFAULT_RESOURCES = {
  requests: { cpu: '250m', memory: '256Mi' },
  limits: { memory: '512Mi' },
};
/** UID/GID of the gateway process (non-root). */
export const GATEWAY_UID = 10001;

/** Env var → secret ref, exactly the names the gateway reads (no other way secrets reach the pod). */
export function secretEnv(m: VoiceAgentModel): [string, SecretKeySelector][] {
  const { agent, telephony } = m.spec;
  const env: [string, SecretKeySelector | undefined][] = [
    ['TWILIO_AUTH_TOKEN', telephony.twilio?.authTokenSecretRef],
    ['TWILIO_ACCOUNT_SID', telephony.twilio?.accountSidSecretRef],
    ['ELEVENLABS_API_KEY', agent.elevenlabs?.apiKeySecretRef],
    ['OPENAI_API_KEY', agent.openaiRealtime?.apiKeySecretRef],
    ['AGENT_WEBSOCKET_TOKEN', agent.websocket?.tokenSecretRef],
    ['ELEVENLABS_WEBHOOK_SECRET', agent.elevenlabs?.webhookSecretRef],
    ['ELEVENLABS_REQUEST_TOKEN', agent.elevenlabs?.requestTokenSecretRef],
    ['CALLFLEET_MEMORY_URL', m.memory?.connection],
    ['CALLFLEET_ENCRYPTION_KEY', m.memory?.encryption],
    ['CALLFLEET_STREAM_KEY', streamKeyRef(m)],
    // Call recording: the bucket credentials of the store's objectStorage.
    ...bucketCredentialEnv(m.spec.calls.recording ? m.memory?.objectStorage : undefined),
  ];
  return env.filter((e): e is [string, SecretKeySelector] => e[1] !== undefined);
}

export function addDeployment(
  chart: Chart,
  m: VoiceAgentModel,
  configMap: kplus.ConfigMap,
  checksum: string,
) {
  const serviceAccount = new kplus.ServiceAccount(chart, 'serviceaccount', {
    metadata: {
      name: m.names.serviceAccount,
      labels: { ...(m.spec.podTemplate?.serviceAccount?.labels ?? {}), ...m.labels('gateway') },
      annotations: m.spec.podTemplate?.serviceAccount?.annotations,
    },
    automountToken: false,
  });
  const deployment = new kplus.Deployment(chart, 'deployment', {
    metadata: { name: m.names.deployment, labels: m.labels('gateway') },
    select: false,
    podMetadata: {
      labels: m.podLabels,
      annotations: {
        ...(m.spec.podTemplate?.annotations ?? {}),
        ...idleMarks().annotations,
        [CONFIG_CHECKSUM_ANNOTATION]: checksum,
      },
    },
    serviceAccount,
    automountServiceAccountToken: false,
    terminationGracePeriod: Duration.seconds(m.gracePeriodSeconds),
    strategy: kplus.DeploymentStrategy.rollingUpdate({
      maxSurge: kplus.PercentOrAbsolute.absolute(1),
      maxUnavailable: kplus.PercentOrAbsolute.absolute(0),
    }),
    securityContext: {
      ensureNonRoot: true,
      user: GATEWAY_UID,
      group: GATEWAY_UID,
      fsGroup: GATEWAY_UID,
    },
  });
  deployment.select(kplus.LabelSelector.of({ labels: m.selector }));
  // The operator owns the replica count (HPA/KEDA write VoiceAgent.spec.replicas): it adds spec.replicas
  // to what it applies (ADR 0032); rendered alone, the Deployment has none.
  deployment.markHasAutoscaler();

  const probe = { port: GATEWAY_PORT, timeoutSeconds: Duration.seconds(2) };
  const container = deployment.addContainer({
    name: 'gateway',
    image: gatewayImage(m, DEFAULT_IMAGE).image,
    imagePullPolicy: gatewayImage(m, DEFAULT_IMAGE).pullPolicy as kplus.ImagePullPolicy,
    args: ['gateway'],
    ports: [
      { number: GATEWAY_PORT, name: PORT_NAME },
      { number: INTERNAL_PORT, name: INTERNAL_PORT_NAME },
    ],
    envVariables: {
      PORT: kplus.EnvValue.fromValue(String(GATEWAY_PORT)),
      CALLFLEET_INTERNAL_PORT: kplus.EnvValue.fromValue(String(INTERNAL_PORT)),
      CALLFLEET_GATEWAY_CONFIG: kplus.EnvValue.fromValue(`${CONFIG_DIR}/${CONFIG_FILE}`),
      // On every log line (voice-gateway/log.ts): which pod of which fleet said it.
      CALLFLEET_VOICEAGENT: kplus.EnvValue.fromValue(m.owner.name),
      POD_NAME: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAME),
      POD_NAMESPACE: kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAMESPACE),
      // Young-generation cap (voice-gateway/node-options.ts): memory per call, ADR 0020.
      NODE_OPTIONS: kplus.EnvValue.fromValue(GATEWAY_NODE_OPTIONS),
      // The operator link (ADR 0021): busy/idle/draining edges reach the operator at once.
      ...(m.ctx.operatorNoticeUrl
        ? { CALLFLEET_OPERATOR_NOTICE_URL: kplus.EnvValue.fromValue(m.ctx.operatorNoticeUrl) }
        : {}),
    },
    startup: kplus.Probe.fromHttpGet('/health', {
      ...probe,
      periodSeconds: Duration.seconds(2),
      failureThreshold: 30,
    }),
    liveness: kplus.Probe.fromHttpGet('/health', {
      ...probe,
      periodSeconds: Duration.seconds(10),
      failureThreshold: 3,
    }),
    readiness: kplus.Probe.fromHttpGet('/health/ready', {
      ...probe,
      periodSeconds: Duration.seconds(5),
      failureThreshold: 2,
    }),
    securityContext: {
      ensureNonRoot: true,
      user: GATEWAY_UID,
      group: GATEWAY_UID,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: [kplus.Capability.ALL] },
      seccompProfile: { type: kplus.SeccompProfileType.RUNTIME_DEFAULT },
    },
  });
  for (const [name, ref] of secretEnv(m)) {
    container.env.addVariable(
      name,
      kplus.EnvValue.fromSecretValue({
        secret: kplus.Secret.fromSecretName(chart, `secret-${name}`, ref.name),
        key: ref.key,
      }),
    );
  }
  container.mount(
    CONFIG_DIR,
    kplus.Volume.fromConfigMap(chart, 'config-volume', configMap, { name: 'config' }),
    {
      readOnly: true,
    },
  );
  container.mount(
    '/tmp',
    kplus.Volume.fromEmptyDir(chart, 'tmp-volume', 'tmp', { sizeLimit: Size.mebibytes(64) }),
  );

  const c = '/spec/template/spec/containers/0';
  const patches = [
    JsonPatch.remove('/spec/template/metadata/labels/cdk8s.io~1metadata.addr'),
    JsonPatch.replace(`${c}/resources`, m.spec.resources ?? DEFAULT_RESOURCES),
    JsonPatch.add('/spec/template/spec/securityContext/seccompProfile', { type: 'RuntimeDefault' }),
    JsonPatch.add('/spec/template/spec/topologySpreadConstraints', topologySpread(m)),
    // A stalled rollout (pods never Ready) surfaces as ProgressDeadlineExceeded: the operator rolls back.
    JsonPatch.add('/spec/progressDeadlineSeconds', m.spec.rollout.progressDeadlineSeconds),
    // The last good ReplicaSet is the rollback target: keep a few.
    JsonPatch.add('/spec/revisionHistoryLimit', 5),
  ];
  // preStop: a sleep action (no shell in the image) so load balancers deregister the pod before SIGTERM.
  if (m.preStopSeconds > 0) {
    patches.push(JsonPatch.add(`${c}/lifecycle`, { preStop: { sleep: { seconds: m.preStopSeconds } } }));
  } else {
    patches.push(JsonPatch.remove(`${c}/lifecycle`));
  }
  const pt = m.spec.podTemplate;
  if (pt?.nodeSelector) patches.push(JsonPatch.add('/spec/template/spec/nodeSelector', pt.nodeSelector));
  if (pt?.tolerations) patches.push(JsonPatch.add('/spec/template/spec/tolerations', pt.tolerations));
  if (pt?.affinity) patches.push(JsonPatch.add('/spec/template/spec/affinity', pt.affinity));
  if (pt?.priorityClassName) {
    patches.push(JsonPatch.add('/spec/template/spec/priorityClassName', pt.priorityClassName));
  }
  // The store's CA: after the config volume and the operator's env, before the spec's own (podFitPatches).
  const ca = m.memory?.ca;
  if (ca) {
    patches.push(
      JsonPatch.add(`${c}/env/-`, memoryCaEnv),
      JsonPatch.add(`${c}/volumeMounts/1`, memoryCaMount),
      JsonPatch.add('/spec/template/spec/volumes/1', memoryCaVolume(ca)),
    );
  }
  patches.push(...podFitPatches(m, c));
  patchOutput(chart, 'Deployment', m.names.deployment, ...patches);
  return deployment;
}
