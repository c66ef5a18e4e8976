// The gateway's runtime config, built from the VoiceAgent spec and validated with the gateway's own
// schema (voice-gateway/config/schema.ts) so the contract between operator and gateway has one definition.
import { createHash } from 'node:crypto';
import type { Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import {
  type GatewayConfig,
  type GatewayConfigInput,
  gatewayConfigSchema,
} from '../../../voice-gateway/config/schema.ts';
import { EchoAgentSchema, formatPath, handoffActive } from '../../api/v1alpha1/index.ts';
import { RenderError } from '../errors.ts';
import { bucketConfig } from '../object-storage.ts';
import { CONFIG_FILE, type VoiceAgentModel } from './model.ts';

export function publicBaseUrl(m: VoiceAgentModel): string {
  if (m.spec.telephony.publicBaseUrl) return m.spec.telephony.publicBaseUrl;
  const host = m.spec.ingress?.host ?? '';
  if (host.startsWith('*.')) {
    throw new RenderError(
      'spec.ingress.host',
      'a wildcard host cannot be the public URL; set spec.telephony.publicBaseUrl',
    );
  }
  return `https://${host}`;
}

export function gatewayConfigInput(m: VoiceAgentModel): GatewayConfigInput {
  const { agent, calls, telephony, memory } = m.spec;
  const cfg: GatewayConfigInput = {
    publicBaseUrl: publicBaseUrl(m),
    telephony: telephony.mode,
    agent: { provider: agent.provider, fallbacks: agent.fallbacks ?? [], stallSeconds: agent.stallSeconds },
    calls: {
      maxConcurrentPerPod: calls.maxConcurrentPerPod,
      maxDurationSeconds: calls.maxDurationSeconds,
      silenceTimeoutSeconds: calls.silenceTimeoutSeconds,
      uplinkChunkMs: calls.uplinkChunkMs,
    },
    drain: { gracePeriodSeconds: m.gracePeriodSeconds },
  };
  if (calls.fallback && (calls.fallback.say || calls.fallback.dial))
    cfg.calls = { ...cfg.calls, fallback: calls.fallback };
  if (calls.transfer) cfg.calls = { ...cfg.calls, transfer: calls.transfer };
  if (calls.reprompt) cfg.calls = { ...cfg.calls, reprompt: calls.reprompt };
  if (agent.elevenlabs)
    cfg.agent = {
      ...cfg.agent,
      elevenlabs: { agentId: agent.elevenlabs.agentId, baseUrl: agent.elevenlabs.baseUrl },
    };
  if (agent.openaiRealtime) {
    const o = agent.openaiRealtime;
    cfg.agent = {
      ...cfg.agent,
      openaiRealtime: { model: o.model, voice: o.voice, instructions: o.instructions, baseUrl: o.baseUrl },
    };
  }
  if (agent.websocket) cfg.agent = { ...cfg.agent, websocket: { url: agent.websocket.url } };
  // Written even without an echo block: the pod runs with the API's default, not the gateway's.
  const echo = agent.echo ?? EchoAgentSchema.parse({});
  cfg.agent = { ...cfg.agent, echo: { greeting: echo.greeting } };
  // Every memory value is written explicitly: the pod runs with the API's defaults, never the gateway's.
  cfg.memory = { enabled: false };
  if (memory && m.memory) {
    cfg.memory = {
      enabled: true,
      lookupBudgetMs: memory.lookupBudgetMs,
      recordTranscripts: memory.recordTranscripts,
      extractMemories: memory.extractMemories,
      ...(m.memory.poolSize !== undefined ? { poolSize: m.memory.poolSize } : {}),
      retention: {
        transcriptsDays: m.memory.retention.transcriptsDays,
        memoriesDays: m.memory.retention.memoriesDays,
      },
    };
  }
  const recording = recordingConfig(m);
  if (recording) cfg.recording = recording;
  if (telephony.twilio?.apiBaseUrl) cfg.twilio = { apiBaseUrl: telephony.twilio.apiBaseUrl };
  const handoff = m.spec.drain.handoff;
  if (handoff && handoffActive(m.spec)) {
    // The gateway's clock starts at SIGTERM, after the preStop sleep the kubelet counts in the grace period.
    cfg.drain = {
      gracePeriodSeconds: m.gracePeriodSeconds - m.preStopSeconds,
      handoff: { enabled: true, deadlineSeconds: handoff.deadlineSeconds },
    };
  }
  return cfg;
}

/** spec.calls.recording with the bucket of the VoiceAgent's MemoryStore (its spec.objectStorage). */
function recordingConfig(m: VoiceAgentModel): GatewayConfigInput['recording'] {
  const r = m.spec.calls.recording;
  if (!r) return undefined;
  const store = m.memory;
  // A VoiceAgent rendered without its store (`callfleet render` of one file) cannot know the bucket; the
  // operator always renders with the store (and waits for it), so there the field always takes effect.
  if (!store?.known) return undefined;
  const o = store.objectStorage;
  if (!o) {
    throw new RenderError(
      'spec.calls.recording',
      `MemoryStore ${store.store} has no spec.objectStorage (the bucket recordings go to)`,
    );
  }
  return {
    enabled: true,
    bucket: bucketConfig(o),
    retentionDays: r.retentionDays,
    ...(r.consentAnnouncement ? { consentAnnouncement: r.consentAnnouncement } : {}),
  };
}

/** The validated config (defaults applied, keys in schema order) or a RenderError naming the field. */
export function gatewayConfig(m: VoiceAgentModel): GatewayConfig {
  const result = gatewayConfigSchema.safeParse(gatewayConfigInput(m));
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = formatPath(issue?.path ?? []);
    throw new RenderError(
      `gatewayConfig${path ? `.${path}` : ''}`,
      issue?.message ?? 'invalid gateway config',
    );
  }
  return result.data;
}

export function addConfigMap(
  chart: Chart,
  m: VoiceAgentModel,
): { configMap: kplus.ConfigMap; checksum: string } {
  const json = `${JSON.stringify(gatewayConfig(m), null, 2)}\n`;
  const configMap = new kplus.ConfigMap(chart, 'config', {
    metadata: { name: m.names.configMap, labels: m.labels('config') },
    data: { [CONFIG_FILE]: json },
  });
  return { configMap, checksum: createHash('sha256').update(json).digest('hex') };
}
