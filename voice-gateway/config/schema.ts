// The gateway's runtime config: the single definition shared with the operator's renderer (which
// imports this schema to write the ConfigMap). Plain JSON-able; secrets never live here.
import { z } from 'zod';
import { UPLINK_CHUNK_MS } from '../call/uplink.ts';
import { bucketConfigSchema } from '../storage/bucket-config.ts';

const httpUrl = z.url({ protocol: /^(https?|wss?)$/ });
const providerSchema = z.enum(['echo', 'elevenlabs', 'openai-realtime', 'websocket']);
/** E.164 number or SIP URI a call may be dialled to. */
export const DIAL_TARGET = /^(\+[1-9][0-9]{6,14}|sips?:[^\s<>"']{3,250})$/;

export const transferSchema = z
  .object({
    targets: z
      .array(
        z
          .object({
            name: z.string().regex(/^[a-z0-9]([-a-z0-9_]{0,61}[a-z0-9])?$/),
            dial: z.string().regex(DIAL_TARGET).describe('E.164 number or sip:/sips: URI'),
            description: z.string().max(500).optional(),
          })
          .strict(),
      )
      .min(1)
      .max(16)
      .describe('The only humans the agent may transfer to; the first is the default'),
    say: z
      .string()
      .min(1)
      .max(1000)
      .optional()
      .describe('Said (Twilio <Say>) before dialling when the agent gives no sentence of its own'),
    summaryVia: z
      .enum(['whisper', 'memory', 'both'])
      .default('both')
      .describe(
        'Where a warm transfer puts its summary: whispered to the human, stored in caller memory, or both',
      ),
    dialTimeoutSeconds: z.number().int().min(5).max(600).default(30),
  })
  .strict()
  .describe('The transfer_call tool: the agent hands the caller to a human');

export const repromptSchema = z
  .object({
    afterSeconds: z.number().min(1).max(600).default(10),
    maxCount: z.number().int().min(1).max(10).default(2),
    prompt: z
      .string()
      .min(1)
      .max(1000)
      .default('The caller has been silent for a while. Briefly ask whether they are still there.'),
    say: z.string().min(1).max(1000).optional().describe('Sentence the agent is asked to say word for word'),
  })
  .strict()
  .describe('Silence re-prompts: the agent re-engages a silent caller before the silence timeout');

export const fallbackSchema = z
  .object({
    say: z
      .string()
      .min(1)
      .max(4000)
      .optional()
      .describe('What the caller hears when no agent can take the call'),
    dial: z
      .string()
      .min(1)
      .max(64)
      .optional()
      .describe('Number (E.164) or SIP URI of humans to transfer the caller to'),
  })
  .describe('What a caller gets when the pod is full, draining, or the agent backend is down');

export const recordingConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    bucket: bucketConfigSchema.optional().describe('Where recordings go (the MemoryStore objectStorage)'),
    retentionDays: z
      .number()
      .int()
      .min(1)
      .max(3650)
      .default(90)
      .describe('Days a recording is kept; the retention sweep deletes it (object and index row) after'),
    consentAnnouncement: z
      .string()
      .min(1)
      .max(1000)
      .optional()
      .describe('Said to the caller (TwiML <Say>) before the stream connects, so before the agent speaks'),
    agentQueueSeconds: z
      .number()
      .min(1)
      .max(120)
      .default(30)
      .describe("Agent audio held ahead of playback per call (the model of Twilio's playback buffer)"),
    maxBufferBytes: z
      .number()
      .int()
      .min(1024 * 1024)
      .max(4 * 1024 * 1024 * 1024)
      .default(128 * 1024 * 1024)
      .describe(
        'Bytes all recordings of the pod may hold before upload; beyond it audio is dropped (counted)',
      ),
  })
  .strict()
  .optional()
  .superRefine((r, ctx) => {
    if (r?.enabled && !r.bucket)
      ctx.addIssue({ code: 'custom', path: ['bucket'], message: 'required when enabled' });
  });

export const gatewayConfigSchema = z
  .object({
    publicBaseUrl: z
      .url({ protocol: /^https?$/ })
      .describe('Base URL as Twilio sees it (TLS ends at the load balancer), e.g. https://voice.example.com'),
    telephony: z.enum(['twilio-stream', 'elevenlabs-native']).default('twilio-stream'),
    agent: z
      .object({
        provider: providerSchema.default('echo'),
        elevenlabs: z
          .object({
            agentId: z.string().min(1),
            baseUrl: httpUrl
              .optional()
              .describe('Override of https://api.elevenlabs.io (regional hosts, tests)'),
          })
          .optional(),
        openaiRealtime: z
          .object({
            model: z.string().min(1).default('gpt-realtime'),
            voice: z.string().min(1).optional(),
            instructions: z.string().optional(),
            baseUrl: httpUrl.optional().describe('Override of wss://api.openai.com'),
          })
          .optional(),
        websocket: z.object({ url: z.url({ protocol: /^wss?$/ }) }).optional(),
        echo: z
          .object({
            greeting: z.boolean().default(true),
            pauseMs: z.number().int().min(100).max(10000).default(600),
          })
          .prefault({}),
        circuitBreaker: z
          .object({
            failureThreshold: z.number().int().min(1).max(1000).default(5),
            openSeconds: z.number().min(0.1).max(3600).default(60),
          })
          .prefault({}),
        connectTimeoutMs: z.number().int().min(100).max(60000).default(5000),
        fallbacks: z
          .array(providerSchema)
          .max(3)
          .default([])
          .describe(
            'Standby providers, in order: a call whose backend fails to connect, is circuit-open, drops or stalls continues on the next (voice-gateway/call/failover.ts)',
          ),
        stallSeconds: z
          .number()
          .min(0.5)
          .max(120)
          .default(4)
          .describe(
            'A backend that sends nothing (no audio, no event) this long while the caller waits for an answer is failed over to a standby (only when one can take the call)',
          ),
      })
      .prefault({})
      .superRefine((agent, ctx) => {
        const seen = new Set<string>([agent.provider]);
        agent.fallbacks.forEach((p, i) => {
          if (seen.has(p))
            ctx.addIssue({
              code: 'custom',
              path: ['fallbacks', i],
              message: `${p} is already in the chain (the primary or an earlier standby)`,
            });
          seen.add(p);
        });
        for (const p of agent.fallbacks) {
          if (p === 'elevenlabs' && !agent.elevenlabs)
            ctx.addIssue({
              code: 'custom',
              path: ['elevenlabs'],
              message: 'required when elevenlabs is a fallback',
            });
          if (p === 'websocket' && !agent.websocket)
            ctx.addIssue({
              code: 'custom',
              path: ['websocket'],
              message: 'required when websocket is a fallback',
            });
        }
        if (agent.provider === 'elevenlabs' && !agent.elevenlabs) {
          ctx.addIssue({
            code: 'custom',
            path: ['elevenlabs'],
            message: 'required when provider is elevenlabs',
          });
        }
        if (agent.provider === 'websocket' && !agent.websocket) {
          ctx.addIssue({
            code: 'custom',
            path: ['websocket'],
            message: 'required when provider is websocket',
          });
        }
      }),
    calls: z
      .object({
        maxConcurrentPerPod: z.number().int().min(1).max(100000).default(20),
        maxDurationSeconds: z.number().min(1).max(86400).default(600),
        silenceTimeoutSeconds: z.number().min(1).max(3600).default(30),
        fallback: fallbackSchema.prefault({
          say: 'Sorry, all our agents are busy right now. Please call again later.',
        }),
        goodbye: z.string().min(1).max(1000).default('Thank you for calling. Goodbye.'),
        transfer: transferSchema.optional(),
        reprompt: repromptSchema.optional(),
        uplinkChunkMs: z
          .literal(UPLINK_CHUNK_MS.choices)
          .default(UPLINK_CHUNK_MS.default)
          .describe('Milliseconds of caller audio per message to the agent backend (ADR 0020)'),
      })
      .prefault({})
      .superRefine((calls, ctx) => {
        if (calls.reprompt && calls.reprompt.afterSeconds >= calls.silenceTimeoutSeconds)
          ctx.addIssue({
            code: 'custom',
            path: ['reprompt', 'afterSeconds'],
            message: 'must be less than silenceTimeoutSeconds (the re-prompt comes before the goodbye)',
          });
        const names = new Set<string>();
        calls.transfer?.targets.forEach((t, i) => {
          if (names.has(t.name))
            ctx.addIssue({
              code: 'custom',
              path: ['transfer', 'targets', i, 'name'],
              message: `duplicate ${t.name}`,
            });
          names.add(t.name);
        });
      }),
    drain: z
      .object({
        gracePeriodSeconds: z.number().min(0).max(86400).default(630),
        goodbyeLeadSeconds: z
          .number()
          .min(0)
          .max(600)
          .default(3)
          .describe('How long before the grace deadline calls still up are ended with a goodbye'),
        handoff: z
          .object({
            enabled: z.boolean().default(false),
            deadlineSeconds: z
              .number()
              .min(0)
              .max(86400)
              .default(30)
              .describe(
                'Seconds after SIGTERM at which calls still live are handed to another pod (Twilio REST update to a fresh stream)',
              ),
          })
          .optional()
          .describe(
            'Live-call hand-off: needs caller memory (the MemoryStore carries the transcript) and Twilio REST',
          ),
      })
      .prefault({})
      .superRefine((drain, ctx) => {
        const h = drain.handoff;
        if (h?.enabled && h.deadlineSeconds >= drain.gracePeriodSeconds - drain.goodbyeLeadSeconds) {
          ctx.addIssue({
            code: 'custom',
            path: ['handoff', 'deadlineSeconds'],
            message:
              'must be less than gracePeriodSeconds - goodbyeLeadSeconds (hand-off happens before the goodbye)',
          });
        }
      }),
    // Every memory setting has its default here, so a parsed config (and the ConfigMap the operator
    // renders from it) carries each value explicitly. These defaults apply only to a gateway run without
    // the operator: the operator renders the VoiceAgent's and MemoryStore's values (docs/memory-and-pii.md).
    memory: z
      .object({
        enabled: z
          .boolean()
          .optional()
          .describe(
            'false turns memory off even when CALLFLEET_MEMORY_URL is set; memory runs when the URL is set',
          ),
        lookupBudgetMs: z
          .number()
          .int()
          .min(1)
          .max(10000)
          .default(150)
          .describe(
            'Time budget of the caller lookup at call start; past it the call proceeds without memory',
          ),
        required: z
          .boolean()
          .default(false)
          .describe(
            'Readiness answers 503 while the memory database is unreachable (false: calls go on without memory)',
          ),
        recordTranscripts: z
          .boolean()
          .default(true)
          .describe('Store transcript turns; false keeps no transcript (and no summary derived from one)'),
        extractMemories: z
          .boolean()
          .default(true)
          .describe(
            'Store what a call teaches about the caller (its summary and any facts) as memories recalled on the next call',
          ),
        poolSize: z
          .number()
          .int()
          .min(1)
          .max(100)
          .default(10)
          .describe(
            "Connections this pod's pool opens at most (the operator sizes it from the MemoryStore's connection budget)",
          ),
        healthCheckSeconds: z
          .number()
          .min(0.1)
          .max(3600)
          .default(5)
          .describe('How often the database is probed for callfleet_memory_up'),
        retention: z
          .object({
            transcriptsDays: z
              .number()
              .int()
              .min(0)
              .max(36500)
              .default(30)
              .describe('Days transcript turns are kept; 0 keeps them forever'),
            memoriesDays: z
              .number()
              .int()
              .min(0)
              .max(36500)
              .default(365)
              .describe('Days memories are kept; 0 keeps them forever'),
            sweepIntervalSeconds: z
              .number()
              .min(1)
              .max(604800)
              .default(3600)
              .describe('How often a pod tries to sweep, one pod at a time'),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    // Call recording (voice-gateway/recording/): needs caller memory (the recordings index and the key).
    recording: recordingConfigSchema,
    twilio: z.object({ apiBaseUrl: httpUrl.optional() }).optional(),
    limits: z
      .object({
        maxPayloadBytes: z
          .number()
          .int()
          .min(1024)
          .max(16 * 1024 * 1024)
          .default(16 * 1024)
          .describe(
            'Hard WebSocket frame limit: a larger frame closes the stream (1009) before it is buffered',
          ),
        queueFrames: z.number().int().min(1).max(100000).default(250),
        outboundBufferBytes: z
          .number()
          .int()
          .min(1024)
          .max(64 * 1024 * 1024)
          .default(512 * 1024),
        startFrameBytes: z
          .number()
          .int()
          .min(1024)
          .max(64 * 1024)
          .default(4096)
          .describe('Largest media-stream frame before start (start carries the stream credential)'),
        mediaFrameBytes: z
          .number()
          .int()
          .min(512)
          .max(64 * 1024)
          .default(2048)
          .describe('Largest media-stream frame after start (a Twilio media frame is about 400 bytes)'),
        inboundBytesPerSecond: z
          .number()
          .int()
          .min(4096)
          .max(16 * 1024 * 1024)
          .default(32 * 1024)
          .describe(
            'Sustained inbound bytes per second per stream (Twilio sends about 19 KB/s); the burst is twice that',
          ),
        parseBudgetMs: z
          .number()
          .min(1)
          .max(1000)
          .default(10)
          .describe(
            'Milliseconds of JSON parsing per second one stream may use (media frames take a parse-free path)',
          ),
        pendingAudioBytes: z
          .number()
          .int()
          .min(1024)
          .max(16 * 1024 * 1024)
          .default(32 * 1024)
          .describe(
            'Caller audio (base64 bytes) held per call until the backend answers: about 3 s of audio',
          ),
        startTimeoutMs: z
          .number()
          .int()
          .min(100)
          .max(60000)
          .default(5000)
          .describe('A media stream without a valid start within this time is closed'),
        pingIntervalMs: z
          .number()
          .int()
          .min(100)
          .max(600000)
          .default(10000)
          .describe(
            'WebSocket keep-alive: a stream silent for a whole interval that misses the ping is closed',
          ),
      })
      .prefault({}),
  })
  .strict();

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;
