// What the demo applies: a MemoryStore run by the operator (PostgreSQL) and a VoiceAgent with the echo
// backend — or ElevenLabs / OpenAI Realtime when their keys are in the environment.
import { postgresMemoryStore, twilioSecretRefs } from '../support/manifests.ts';

export interface Provider {
  name: 'echo' | 'elevenlabs' | 'openai-realtime';
  agent: Record<string, unknown>;
  secrets: Record<string, unknown>[];
}

const secret = (name: string, data: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name },
  stringData: data,
});

export function agentSetup(env: NodeJS.ProcessEnv): Provider {
  if (env.ELEVENLABS_API_KEY && env.ELEVENLABS_AGENT_ID) {
    return {
      name: 'elevenlabs',
      agent: {
        provider: 'elevenlabs',
        elevenlabs: {
          agentId: env.ELEVENLABS_AGENT_ID,
          apiKeySecretRef: { name: 'elevenlabs', key: 'api-key' },
        },
      },
      secrets: [secret('elevenlabs', { 'api-key': env.ELEVENLABS_API_KEY })],
    };
  }
  if (env.OPENAI_API_KEY) {
    return {
      name: 'openai-realtime',
      agent: {
        provider: 'openai-realtime',
        openaiRealtime: {
          instructions: 'You are the callfleet demo receptionist. Be brief and friendly.',
          apiKeySecretRef: { name: 'openai', key: 'api-key' },
        },
      },
      secrets: [secret('openai', { 'api-key': env.OPENAI_API_KEY })],
    };
  }
  return { name: 'echo', agent: { provider: 'echo' }, secrets: [] };
}

export function memoryStoreDoc(): Record<string, unknown> {
  return postgresMemoryStore('callers', { retention: { transcriptsDays: 30, memoriesDays: 365 } });
}

export function voiceAgentDoc(provider: Provider, publicBaseUrl: string): Record<string, unknown> {
  return {
    apiVersion: 'callfleet.io/v1alpha1',
    kind: 'VoiceAgent',
    metadata: { name: 'receptionist' },
    spec: {
      agent: provider.agent,
      telephony: { twilio: twilioSecretRefs(), publicBaseUrl },
      memory: { storeRef: { name: 'callers' } },
      calls: { maxConcurrentPerPod: 20, maxDurationSeconds: 120, silenceTimeoutSeconds: 20 },
      replicas: 2,
      autoscaling: { enabled: false },
      drain: { preStopSeconds: 2, gracePeriodSeconds: 180 },
      ingress: { className: 'nginx', host: new URL(publicBaseUrl).host },
    },
  };
}
