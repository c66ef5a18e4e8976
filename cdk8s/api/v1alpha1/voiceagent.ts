// VoiceAgent: one fleet of voice-gateway pods answering Twilio calls for one AI agent.
import { z } from 'zod';
import { UPLINK_CHUNK_MS } from '../../../voice-gateway/call/uplink.ts';
import { celChecks, celRefine, requiredWhen } from '../cel.ts';
import {
  conditionsList,
  DNS_LABEL,
  DNS_SUBDOMAIN,
  HTTP_URL,
  namespaceName,
  objectName,
  passthrough,
  resourceSchema,
  secretRef,
  stringMap,
  WS_URL,
} from './common.ts';
import { ImagePullSecretsSchema, podFitFields, refinePodFit } from './gateway-fit.ts';
import { ingressFitFields, refineIngressFit } from './ingress-fit.ts';

const httpUrl = (description: string) => z.string().max(2048).regex(HTTP_URL).describe(description);
/** A sentence for a caller or the agent (1-1000 characters), optional. */
const sentence = (description: string) => z.string().min(1).max(1000).optional().describe(description);

export const PROVIDERS = ['elevenlabs', 'openai-realtime', 'websocket', 'echo'] as const;

export const ElevenLabsAgentSchema = z
  .strictObject({
    agentId: z
      .string()
      .min(1)
      .max(256)
      .describe('ElevenLabs Agents agent id (from the ElevenLabs dashboard).'),
    apiKeySecretRef: secretRef(
      'Secret key holding the ElevenLabs API key (needed for private agents and signed URLs).',
    ).optional(),
    webhookSecretRef: secretRef(
      'Secret key holding the HMAC secret ElevenLabs signs post-call webhooks with (elevenlabs-native mode); without it every post-call webhook is refused.',
    ).optional(),
    requestTokenSecretRef: secretRef(
      'Secret key holding the request token ElevenLabs sends as `Authorization: Bearer <token>` on the conversation-init and search-memory webhooks (elevenlabs-native mode; required there). Requests without it are refused.',
    ).optional(),
    baseUrl: httpUrl('Override of the ElevenLabs API base URL (regional hosts, tests).').optional(),
  })
  .describe('ElevenLabs Agents backend; required when provider is elevenlabs.');

export const OpenAIRealtimeAgentSchema = z
  .strictObject({
    model: z.string().min(1).max(128).default('gpt-realtime').describe('OpenAI Realtime model name.'),
    voice: z.string().min(1).max(64).default('alloy').describe('Voice the model speaks with.'),
    instructions: z
      .string()
      .max(32768)
      .optional()
      .describe('System instructions for the agent (caller memory is appended at call start).'),
    apiKeySecretRef: secretRef('Secret key holding the OpenAI API key.'),
    baseUrl: httpUrl('Override of the OpenAI API base URL (Azure OpenAI, proxies, tests).').optional(),
  })
  .describe('OpenAI Realtime backend; required when provider is openai-realtime.');

export const WebsocketAgentSchema = z
  .strictObject({
    url: z
      .string()
      .max(2048)
      .regex(WS_URL)
      .describe('ws:// or wss:// URL of your own pipeline; the gateway relays Twilio media frames to it.'),
    tokenSecretRef: secretRef(
      'Secret key holding a bearer token sent in the Authorization header.',
    ).optional(),
  })
  .describe('Bring-your-own pipeline over WebSocket; required when provider is websocket.');

export const EchoAgentSchema = z
  .strictObject({
    greeting: z
      .boolean()
      .default(true)
      .describe(
        'Play a greeting tone before the caller hears their own audio (a two-note chime for a returning caller).',
      ),
  })
  .describe('Echo backend for smoke tests: plays the caller back to themselves.');

const agentBase = z
  .strictObject({
    provider: z
      .enum(PROVIDERS)
      .describe('Which AI agent backend answers calls: elevenlabs, openai-realtime, websocket or echo.'),
    elevenlabs: ElevenLabsAgentSchema.optional(),
    openaiRealtime: OpenAIRealtimeAgentSchema.optional(),
    websocket: WebsocketAgentSchema.optional(),
    echo: EchoAgentSchema.optional(),
    fallbacks: z
      .array(z.enum(PROVIDERS))
      .max(3)
      .optional()
      .meta({ 'x-kubernetes-list-type': 'set' })
      .describe(
        'Standby providers, in order, each configured by its own block above (e.g. provider elevenlabs with openaiRealtime as standby). ' +
          'A call whose backend fails to connect, is circuit-open, drops or stalls continues on the next one in the same pod, ' +
          'with the transcript so far and the caller memory, without a second greeting; only when every backend is down does the caller get calls.fallback.',
      ),
    stallSeconds: z
      .number()
      .min(1)
      .max(120)
      .default(4)
      .describe(
        'Seconds a backend may send nothing at all (no audio, no event) while the caller waits for an answer before the call moves to the next backend of fallbacks. Without a standby that can take the call, the call stays (calls.silenceTimeoutSeconds still applies).',
      ),
  })
  .describe('The AI agent backend the gateways stream call audio to.');

const agentChecked = celChecks(
  agentBase,
  requiredWhen('provider', 'elevenlabs', 'elevenlabs'),
  requiredWhen('provider', 'openai-realtime', 'openaiRealtime'),
  {
    rule:
      "!has(self.fallbacks) || self.fallbacks.all(p, (p != 'elevenlabs' || has(self.elevenlabs)) && " +
      "(p != 'openai-realtime' || has(self.openaiRealtime)) && (p != 'websocket' || has(self.websocket)))",
    message: 'every fallback provider needs its block (elevenlabs, openaiRealtime or websocket)',
    fieldPath: '.fallbacks',
    holds: (a) =>
      (a.fallbacks ?? []).every(
        (p) =>
          (p !== 'elevenlabs' || a.elevenlabs !== undefined) &&
          (p !== 'openai-realtime' || a.openaiRealtime !== undefined) &&
          (p !== 'websocket' || a.websocket !== undefined),
      ),
  },
  {
    rule: '!has(self.fallbacks) || !(self.provider in self.fallbacks)',
    message: 'fallbacks must not repeat the primary provider',
    fieldPath: '.fallbacks',
    holds: (a) => !(a.fallbacks ?? []).includes(a.provider),
  },
);
const agentFallbacksUnique = agentChecked.superRefine((a, ctx) => {
  const seen = new Set<string>();
  (a.fallbacks ?? []).forEach((p, i) => {
    if (seen.has(p))
      ctx.addIssue({ code: 'custom', message: `Duplicate value: "${p}"`, path: ['fallbacks', i] });
    seen.add(p);
  });
});
export const AgentSchema = celChecks(
  agentFallbacksUnique,
  requiredWhen('provider', 'websocket', 'websocket'),
);

export const TwilioSchema = z
  .strictObject({
    accountSidSecretRef: secretRef('Secret key holding the Twilio Account SID.'),
    authTokenSecretRef: secretRef('Secret key holding the Twilio auth token (validates X-Twilio-Signature).'),
    apiBaseUrl: httpUrl(
      'Override of https://api.twilio.com for call updates (fallback, polite endings, hand-off), e.g. a regional edge such as https://api.dublin.ie1.twilio.com.',
    ).optional(),
  })
  .describe('Twilio credentials; required in twilio-stream mode.');

export const TelephonySchema = celChecks(
  z
    .strictObject({
      mode: z
        .enum(['twilio-stream', 'elevenlabs-native'])
        .default('twilio-stream')
        .describe(
          'twilio-stream: Twilio streams call audio to the gateways, which relay it to the agent backend. ' +
            'elevenlabs-native: ElevenLabs talks to Twilio; the gateways serve its conversation-init, tool and post-call webhooks.',
        ),
      twilio: TwilioSchema.optional(),
      publicBaseUrl: httpUrl(
        'Public https URL Twilio / ElevenLabs reach the gateways at; defaults to https://<ingress.host>.',
      ).optional(),
    })
    .describe('How calls reach the fleet.'),
  requiredWhen('mode', 'twilio-stream', 'twilio'),
);

export const MemorySchema = z
  .strictObject({
    storeRef: z
      .strictObject({ name: objectName('Name of the MemoryStore in the same namespace.') })
      .describe('The MemoryStore that remembers callers.'),
    lookupBudgetMs: z
      .int()
      .min(10)
      .max(5000)
      .default(150)
      .describe(
        'Time budget in milliseconds for the caller lookup at call start; on timeout the call proceeds without memory.',
      ),
    recordTranscripts: z
      .boolean()
      .default(true)
      .describe(
        'Store call transcripts in the MemoryStore; false keeps no transcript (nor a summary derived from one).',
      ),
    extractMemories: z
      .boolean()
      .default(true)
      .describe(
        "Store what each call teaches about the caller as memories recalled on the next call: the call's summary " +
          "(the backend's, or what the caller said) and any facts the backend reports; false stores none.",
      ),
  })
  .describe('Caller memory: who called before and what they said.');

export const RecordingSchema = z
  .strictObject({
    retentionDays: z
      .int()
      .min(1)
      .max(3650)
      .default(90)
      .describe('Days a recording is kept; the gateways delete it (object and index) after that.'),
    consentAnnouncement: sentence(
      'Said to the caller (Twilio <Say>) before the call connects, so before the agent speaks.',
    ),
  })
  .describe(
    "Record each call (both directions, one stereo WAV: caller left, agent right) encrypted into the MemoryStore's objectStorage bucket; included in data-rights export and forget. Needs memory (its store's objectStorage and key) and telephony mode twilio-stream.",
  );

const DIAL_TARGET = /^(\+[1-9][0-9]{6,14}|sips?:[^\s<>"']{3,250})$/;

export const TransferTargetSchema = z
  .strictObject({
    name: z
      .string()
      .min(1)
      .max(63)
      .regex(/^[a-z0-9]([-a-z0-9_]{0,61}[a-z0-9])?$/)
      .describe('Name the agent uses for this target in the transfer_call tool (e.g. sales).'),
    dial: z
      .string()
      .max(256)
      .regex(DIAL_TARGET)
      .describe(
        'E.164 number (+15550100) or sip:/sips: URI the call is dialled to (<Dial><Number> or <Sip>).',
      ),
    description: z
      .string()
      .max(500)
      .optional()
      .describe('What this target is for; the agent reads it in the tool definition (OpenAI Realtime).'),
  })
  .describe('A human the agent may transfer callers to.');

export const TransferSchema = z
  .strictObject({
    targets: z
      .array(TransferTargetSchema)
      .min(1)
      .max(16)
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
      .describe(
        'The only targets a transfer may dial; the first is the default. A transfer_call naming anything else is refused (callfleet_transfers_total{result="refused_target"}) and the agent is told the allowed names.',
      ),
    say: sentence(
      'Said to the caller (Twilio <Say>) before dialling when the agent gives no sentence of its own.',
    ),
    summaryVia: z
      .enum(['whisper', 'memory', 'both'])
      .default('both')
      .describe(
        "Where a warm transfer's summary goes: whispered to the human when they answer (<Dial> url returning <Say>), stored as the call's summary in the MemoryStore (for the human's tools), or both.",
      ),
    dialTimeoutSeconds: z
      .int()
      .min(5)
      .max(600)
      .default(30)
      .describe('Seconds the target may ring before the <Dial> gives up (the call then ends).'),
  })
  .describe(
    "Transfer to a human on the agent's request: the transfer_call tool (ElevenLabs client tool, OpenAI Realtime function, websocket tool_call) with optional target, message, warm and summary; the call ends here in a Twilio <Dial> with outcome transferred.",
  );

export const RepromptSchema = celRefine(
  z
    .strictObject({
      afterSeconds: z
        .number()
        .min(1)
        .max(600)
        .default(10)
        .describe(
          'Seconds of silence from both sides (the agent not speaking) after which the agent is asked to re-engage the caller.',
        ),
      maxCount: z
        .int()
        .min(1)
        .max(10)
        .default(2)
        .describe(
          'Re-prompts in a row at most; the caller speaking starts the count over. Then the silence timeout ends the call.',
        ),
      prompt: sentence(
        'Instruction given to the agent as context for the re-prompt (default: ask briefly whether the caller is still there).',
      ),
      say: sentence(
        'A sentence the agent is asked to say word for word instead of a prompt (exclusive with prompt).',
      ),
    })
    .describe('Silence re-prompts before the silence timeout ends the call.'),
  {
    rule: '!(has(self.prompt) && has(self.say))',
    message: 'prompt and say are mutually exclusive',
    fieldPath: '.say',
  },
  (r) => !(r.prompt !== undefined && r.say !== undefined),
);

const callsBase = z
  .strictObject({
    maxConcurrentPerPod: z
      .int()
      .min(1)
      .max(1000)
      .default(20)
      .describe('Calls one gateway pod carries at most; further calls get the fallback.'),
    maxDurationSeconds: z
      .int()
      .min(30)
      .max(14400)
      .default(900)
      .describe('Longest call in seconds; the call is ended after it.'),
    silenceTimeoutSeconds: z
      .int()
      .min(5)
      .max(3600)
      .default(30)
      .describe('Seconds of silence from both sides after which the call is ended.'),
    uplinkChunkMs: z
      .literal(UPLINK_CHUNK_MS.choices)
      .default(UPLINK_CHUNK_MS.default)
      .describe(
        `Milliseconds of caller audio the gateway sends to the agent backend per message: ${UPLINK_CHUNK_MS.min} ` +
          `sends every 20 ms Twilio frame as it arrives, ${UPLINK_CHUNK_MS.max} sends two frames at a time (half ` +
          'the backend messages, wake-ups and packets; a frame waits at most 25 ms). Held audio leaves at once on a ' +
          'DTMF, a mark, the caller starting to speak (barge-in), an interruption, the end of the call and a ' +
          `hand-off. At most ${UPLINK_CHUNK_MS.max} so the added latency stays within 25 ms.`,
      ),
    fallback: z
      .strictObject({
        say: z.string().max(1024).optional().describe('Text read to the caller by Twilio (<Say>).'),
        dial: z
          .string()
          .regex(/^\+[1-9][0-9]{6,14}$/)
          .optional()
          .describe('E.164 number the call is forwarded to (<Dial>), after `say` if both are set.'),
      })
      .optional()
      .describe('What a caller gets when the fleet is full, draining, or the backend is down.'),
    recording: RecordingSchema.optional(),
    transfer: TransferSchema.optional(),
    reprompt: RepromptSchema.optional(),
  })
  .describe('Per-call limits.');

export const CallsSchema = celRefine(
  callsBase,
  {
    rule: '!has(self.reprompt) || self.reprompt.afterSeconds < self.silenceTimeoutSeconds',
    message:
      'reprompt.afterSeconds must be less than silenceTimeoutSeconds (the re-prompt comes before the goodbye)',
    fieldPath: '.reprompt.afterSeconds',
  },
  (c) => c.reprompt === undefined || c.reprompt.afterSeconds < c.silenceTimeoutSeconds,
);

export const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
const HHMM = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;

/** True for a time zone this Node's ICU knows (what the operator's schedule uses). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** An IANA time zone name, checked against this Node's ICU (CEL cannot know the database), default UTC. */
export const timeZoneName = (description: string) =>
  z
    .string()
    .min(1)
    .max(64)
    .refine(isTimeZone, { message: 'unknown IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)' })
    .default('UTC')
    .describe(description);

export const ScheduleWindowSchema = z
  .strictObject({
    name: z.string().min(1).max(63).regex(DNS_LABEL).describe('Name of the window (unique in the list).'),
    days: z.array(z.enum(WEEKDAYS)).min(1).max(7).describe('Days the window applies on (Mon..Sun).'),
    start: z.string().regex(HHMM).describe('Start time, HH:MM (24 h) in timeZone.'),
    end: z
      .string()
      .regex(HHMM)
      .describe('End time, HH:MM (24 h) in timeZone; before start means the next day.'),
    // CEL cannot know the IANA database: the API server accepts any name, the operator's parse refuses
    // an unknown one (Ready=False, InvalidSpec, with this field's path) before anything is applied.
    timeZone: timeZoneName('IANA time zone, e.g. Europe/Berlin.'),
    minReplicas: z.int().min(1).max(1000).describe('Minimum replicas while the window is active.'),
  })
  .describe('A time window with its own minimum (e.g. business hours).');

export const KedaPrometheusSchema = z
  .strictObject({
    serverAddress: httpUrl(
      'Prometheus query URL KEDA reads callfleet_active_calls from (default http://prometheus-operated.<monitoring.prometheusNamespace or monitoring>.svc:9090). Amazon Managed Prometheus: https://aps-workspaces.<region>.amazonaws.com/workspaces/<id>; Google Managed Prometheus: the frontend Service or https://monitoring.googleapis.com/v1/projects/<project>/location/global/prometheus.',
    ).optional(),
    authenticationRef: z
      .strictObject({
        name: z.string().min(1).max(253).regex(DNS_SUBDOMAIN).describe('Name of the trigger authentication.'),
        kind: z
          .enum(['TriggerAuthentication', 'ClusterTriggerAuthentication'])
          .default('TriggerAuthentication')
          .describe('TriggerAuthentication (in the VoiceAgent namespace) or ClusterTriggerAuthentication.'),
      })
      .optional()
      .describe(
        'KEDA TriggerAuthentication holding the credentials (bearer token, basic auth, TLS client certificate, or pod identity for AWS / GCP).',
      ),
    authModes: z
      .enum(['bearer', 'basic', 'tls', 'custom'])
      .optional()
      .describe(
        'How KEDA authenticates to Prometheus with the authenticationRef (KEDA prometheus scaler authModes).',
      ),
    awsRegion: z
      .string()
      .min(1)
      .max(32)
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/)
      .optional()
      .describe(
        'AWS region of an Amazon Managed Prometheus workspace (requests are SigV4-signed with the pod identity of authenticationRef).',
      ),
    unsafeSsl: z
      .boolean()
      .default(false)
      .describe('Skip TLS certificate verification of serverAddress (self-signed test setups only).'),
  })
  .describe('Where and how the KEDA engine queries Prometheus for the active-calls trigger.');

const autoscalingBase = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe('Scale spec.replicas automatically; when false spec.replicas is used as set.'),
    engine: z
      .enum(['hpa', 'keda'])
      .default('hpa')
      .describe('hpa: a HorizontalPodAutoscaler; keda: a KEDA ScaledObject (needs KEDA installed).'),
    minReplicas: z.int().min(1).max(1000).default(2).describe('Fewest gateway pods.'),
    maxReplicas: z.int().min(1).max(1000).default(10).describe('Most gateway pods.'),
    targetCPUUtilization: z
      .int()
      .min(1)
      .max(100)
      .default(60)
      .describe('Average CPU utilisation (percent of requests) to scale on.'),
    targetActiveCallsPerPod: z
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe('Average active calls per pod to scale on (callfleet_active_calls).'),
    schedule: z
      .array(ScheduleWindowSchema)
      .max(16)
      .optional()
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
      .describe('Time windows that raise the minimum, e.g. business hours.'),
    prometheus: KedaPrometheusSchema.optional(),
  })
  .describe(
    'Horizontal autoscaling of the gateway pods; writes spec.replicas through the scale subresource.',
  );

const autoscalingChecked = celChecks(
  autoscalingBase,
  {
    rule: 'self.minReplicas <= self.maxReplicas',
    message: 'minReplicas must be less than or equal to maxReplicas',
    fieldPath: '.minReplicas',
    holds: (a) => a.minReplicas <= a.maxReplicas,
  },
  {
    rule: '!has(self.schedule) || self.schedule.all(w, w.minReplicas <= self.maxReplicas)',
    message: 'every schedule window minReplicas must be less than or equal to maxReplicas',
    fieldPath: '.schedule',
    holds: (a) => (a.schedule ?? []).every((w) => w.minReplicas <= a.maxReplicas),
  },
  {
    rule: "!has(self.prometheus) || self.engine == 'keda'",
    message:
      'prometheus is read by the KEDA engine only: set engine: keda (the HPA engine reads callfleet_active_calls through a Prometheus adapter, see docs/guides/monitoring.md)',
    fieldPath: '.prometheus',
    holds: (a) => a.prometheus === undefined || a.engine === 'keda',
  },
);
// The API server enforces unique names through the list-map; mirror it for the zod parse.
export const AutoscalingSchema = autoscalingChecked.superRefine((a, ctx) => {
  const seen = new Set<string>();
  (a.schedule ?? []).forEach((w, i) => {
    if (seen.has(w.name)) {
      ctx.addIssue({ code: 'custom', message: `Duplicate value: ${w.name}`, path: ['schedule', i] });
    }
    seen.add(w.name);
  });
});

export const DrainSchema = z
  .strictObject({
    gracePeriodSeconds: z
      .int()
      .min(1)
      .max(86400)
      .optional()
      .describe(
        'How long a terminating pod keeps its live calls (terminationGracePeriodSeconds); default ' +
          'calls.maxDurationSeconds + 60, or with hand-off on and a MemoryStore preStopSeconds + handoff.deadlineSeconds + 30; ' +
          'must be at least calls.maxDurationSeconds unless hand-off is on (then greater than preStopSeconds + the deadline).',
      ),
    preStopSeconds: z
      .int()
      .min(0)
      .max(300)
      .default(5)
      .describe('Seconds the preStop hook waits so load balancers stop sending new calls first.'),
    handoff: z
      .strictObject({
        enabled: z
          .boolean()
          .default(false)
          .describe('Hand live calls over to another pod instead of waiting.'),
        deadlineSeconds: z
          .int()
          .min(1)
          .max(3600)
          .default(30)
          .describe('Seconds after SIGTERM before remaining calls are handed off.'),
      })
      .optional()
      .describe('Live-call handoff during drains.'),
  })
  .describe('How pods are drained without cutting live calls.');

export const RolloutSchema = z
  .strictObject({
    autoRollback: z
      .boolean()
      .default(true)
      .describe('Roll back to the last good generation when the new pods fail calls.'),
    maxCallFailureRate: z
      .number()
      .min(0)
      .max(1)
      .default(0.05)
      .describe('Share of failed calls (0..1) on new pods above which a rollout counts as failed.'),
    minCalls: z
      .int()
      .min(1)
      .max(100000)
      .default(10)
      .describe('Calls the new pods must have handled before their failure rate is judged.'),
    progressDeadlineSeconds: z
      .int()
      .min(10)
      .max(86400)
      .default(600)
      .describe('Seconds a rollout may make no progress (e.g. pods never Ready) before it counts as failed.'),
  })
  .describe('Rollout safety.');

export const GatewayRefSchema = z
  .strictObject({
    name: objectName('Name of the Gateway (gateway.networking.k8s.io).'),
    namespace: namespaceName('Namespace of the Gateway; defaults to the VoiceAgent namespace.'),
    sectionName: z
      .string()
      .min(1)
      .max(253)
      .regex(DNS_SUBDOMAIN)
      .optional()
      .describe('Listener of the Gateway to attach to.'),
  })
  .describe('Gateway API parent; the operator creates one HTTPRoute attached to it.');

const ingressBase = z
  .strictObject({
    host: z
      .string()
      .min(1)
      .max(253)
      .regex(/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/)
      .describe('Public host name Twilio calls, e.g. calls.example.com.'),
    className: z
      .enum(['nginx', 'alb', 'gce'])
      .optional()
      .describe('Create an Ingress with this class (nginx, alb or gce); exclusive with gatewayRef.'),
    gatewayRef: GatewayRefSchema.optional(),
    tls: z
      .strictObject({ secretName: objectName('Secret of type kubernetes.io/tls with the certificate.') })
      .optional()
      .describe('TLS for the host.'),
    gatewayPolicy: z
      .enum(['none', 'gcp', 'envoy'])
      .optional()
      .describe(
        'Extra policy object for long-lived streams on the Gateway implementation (none, gcp, envoy).',
      ),
    ...ingressFitFields,
  })
  .describe('One stable Ingress or HTTPRoute in front of the fleet.');

export const IngressSchema = celChecks(
  refineIngressFit(ingressBase),
  {
    rule: '!(has(self.className) && has(self.gatewayRef))',
    message: 'className and gatewayRef are mutually exclusive',
    fieldPath: '.gatewayRef',
    holds: (i) => !(i.className !== undefined && i.gatewayRef !== undefined),
  },
  {
    rule: "!has(self.gatewayPolicy) || self.gatewayPolicy == 'none' || has(self.gatewayRef)",
    message: 'gatewayPolicy requires gatewayRef',
    fieldPath: '.gatewayPolicy',
    holds: (i) => i.gatewayPolicy === undefined || i.gatewayPolicy === 'none' || i.gatewayRef !== undefined,
  },
);

const monitoringBase = z
  .strictObject({
    serviceMonitor: z.boolean().default(false).describe('Create a Prometheus Operator ServiceMonitor.'),
    prometheusRule: z.boolean().default(false).describe('Create a PrometheusRule with the callfleet alerts.'),
    prometheusNamespace: namespaceName(
      'Namespace Prometheus scrapes from; the NetworkPolicy admits it to the internal port (metrics).',
    ),
    labels: stringMap(
      'Extra labels on the ServiceMonitor and PrometheusRule, e.g. release: kube-prometheus-stack (the label its Prometheus selects monitors and rules by).',
    ).optional(),
  })
  .describe('Metrics and alerts.');
export const MonitoringSchema = celRefine(
  monitoringBase,
  {
    rule: '!has(self.labels) || self.serviceMonitor || self.prometheusRule',
    message: 'labels go on the ServiceMonitor and PrometheusRule: enable serviceMonitor or prometheusRule',
    fieldPath: '.labels',
  },
  (m) => m.labels === undefined || m.serviceMonitor || m.prometheusRule,
);

/** Bucket bounds of callfleet_response_latency_seconds and callfleet_first_audio_seconds an SLO may use. */
export const SLO_THRESHOLDS = [0.5, 0.75, 1, 1.5, 2, 3, 5] as const;
const sloThreshold = (field: string, fallback: number, description: string) =>
  celRefine(
    z.number().default(fallback).describe(description),
    {
      rule: `self in [${SLO_THRESHOLDS.map((t) => (Number.isInteger(t) ? `${t}.0` : String(t))).join(', ')}]`,
      message: `${field} must be one of ${SLO_THRESHOLDS.join(', ')} (a bucket bound of the latency histograms)`,
    },
    (v) => (SLO_THRESHOLDS as readonly number[]).includes(v),
  );

export const SloSchema = z
  .strictObject({
    responseSeconds: sloThreshold(
      'responseSeconds',
      3,
      'Response-time objective: seconds from the caller stopping speaking to the first agent audio (callfleet_response_latency_seconds). One of 0.5, 0.75, 1, 1.5, 2, 3, 5.',
    ),
    firstAudioSeconds: sloThreshold(
      'firstAudioSeconds',
      2,
      'Greeting objective: seconds from the stream start to the first agent audio (callfleet_first_audio_seconds). One of 0.5, 0.75, 1, 1.5, 2, 3, 5.',
    ),
    // The API server truncates a fractional minimum to an integer for integral values (0 would pass 0.5):
    // the range is a CEL rule as well.
    objective: celRefine(
      z
        .number()
        .min(0.5)
        .max(0.999)
        .default(0.95)
        .describe(
          'Fraction of responses (and of greetings) that must be within their threshold, e.g. 0.95 for "p95 within". The rest is the error budget the burn-rate alerts watch.',
        ),
      { rule: 'self >= 0.5 && self <= 0.999', message: 'objective must be between 0.5 and 0.999' },
      (v) => v >= 0.5 && v <= 0.999,
    ),
  })
  .describe(
    'Voice-quality objectives, rendered into the PrometheusRule as multi-window burn-rate alerts (Google SRE workbook).',
  );

const InternalPeerSchema = celRefine(
  z
    .strictObject({
      namespace: namespaceName('Admit this namespace (matched by its kubernetes.io/metadata.name label).'),
      podLabels: stringMap(
        'Admit pods with these labels (in `namespace` if set, else in the VoiceAgent namespace).',
      ).optional(),
    })
    .describe('A source admitted to the internal port.'),
  {
    rule: 'has(self.namespace) || has(self.podLabels)',
    message: 'namespace or podLabels is required',
    fieldPath: '.namespace',
  },
  (p) => p.namespace !== undefined || p.podLabels !== undefined,
);

export const NetworkPolicySchema = z
  .strictObject({
    internalFrom: z
      .array(InternalPeerSchema)
      .max(16)
      .optional()
      .describe(
        "Further sources admitted to the gateways' internal port (status, metrics, data-rights API), besides the operator's namespace and monitoring.prometheusNamespace.",
      ),
    extraEgress: z
      .array(passthrough('A networking.k8s.io/v1 NetworkPolicyEgressRule (to, ports).'))
      .max(16)
      .optional()
      .describe(
        'Egress rules added to the gateway NetworkPolicy, e.g. an HTTP(S) proxy: {to: [{ipBlock: {cidr: 10.0.0.10/32}}], ports: [{protocol: TCP, port: 3128}]}.',
      ),
  })
  .describe(
    'The NetworkPolicy of the gateway pods: the public port admits anyone; the internal port only the operator, Prometheus and internalFrom; egress to DNS, HTTPS, the MemoryStore and extraEgress.',
  );

export const PodTemplateSchema = refinePodFit(
  z.strictObject({
    labels: stringMap('Extra labels on the gateway pods.').optional(),
    annotations: stringMap('Extra annotations on the gateway pods.').optional(),
    nodeSelector: stringMap('Node selector for the gateway pods.').optional(),
    tolerations: z
      .array(passthrough('A core/v1 Toleration.'))
      .max(64)
      .optional()
      .describe('Tolerations for the gateway pods (core/v1 Toleration list).'),
    affinity: passthrough('Affinity for the gateway pods (core/v1 Affinity).').optional(),
    priorityClassName: z.string().max(253).optional().describe('PriorityClass of the gateway pods.'),
    ...podFitFields,
  }),
).describe('Passthroughs to the gateway pod template.');

const specBase = z
  .strictObject({
    agent: AgentSchema,
    telephony: TelephonySchema,
    memory: MemorySchema.optional(),
    calls: CallsSchema.prefault({}),
    replicas: z
      .int()
      .min(0)
      .max(1000)
      .default(2)
      .describe('Desired gateway pods; written by the autoscaler through the scale subresource.'),
    autoscaling: AutoscalingSchema.prefault({}),
    drain: DrainSchema.prefault({}),
    rollout: RolloutSchema.prefault({}),
    ingress: IngressSchema.optional(),
    monitoring: MonitoringSchema.prefault({}),
    networkPolicy: NetworkPolicySchema.optional(),
    slo: SloSchema.prefault({}),
    image: z
      .string()
      .min(1)
      .max(512)
      .optional()
      .describe(
        "Gateway container image (repository:tag or repository@sha256:digest); default: the operator's own image, as the chart sets it (registry mirror included).",
      ),
    imagePullPolicy: z
      .enum(['Always', 'IfNotPresent', 'Never'])
      .optional()
      .describe('Image pull policy of the gateway container.'),
    imagePullSecrets: ImagePullSecretsSchema.optional(),
    resources: passthrough(
      'Compute resources of the gateway container (core/v1 ResourceRequirements).',
    ).optional(),
    podTemplate: PodTemplateSchema.optional(),
  })
  .describe('Desired state of the VoiceAgent.');

export const VoiceAgentSpecSchema = celChecks(
  specBase,
  {
    rule: "self.telephony.mode != 'elevenlabs-native' || self.agent.provider == 'elevenlabs'",
    message: 'telephony mode elevenlabs-native requires agent provider elevenlabs',
    fieldPath: '.telephony.mode',
    holds: (s) => s.telephony.mode !== 'elevenlabs-native' || s.agent.provider === 'elevenlabs',
  },
  {
    rule: "self.telephony.mode != 'elevenlabs-native' || (has(self.agent.elevenlabs) && has(self.agent.elevenlabs.requestTokenSecretRef))",
    message:
      'telephony mode elevenlabs-native requires agent.elevenlabs.requestTokenSecretRef (the token ElevenLabs sends on conversation-init and tool calls)',
    fieldPath: '.agent.elevenlabs.requestTokenSecretRef',
    holds: (s) =>
      s.telephony.mode !== 'elevenlabs-native' || s.agent.elevenlabs?.requestTokenSecretRef !== undefined,
  },
  {
    rule: "self.telephony.mode != 'elevenlabs-native' || (!has(self.agent.fallbacks) && !has(self.calls.transfer) && !has(self.calls.reprompt))",
    message:
      'agent.fallbacks, calls.transfer and calls.reprompt act on calls the gateways carry: not in telephony mode elevenlabs-native (configure transfers and re-prompts on the ElevenLabs agent)',
    fieldPath: '.telephony.mode',
    holds: (s) =>
      s.telephony.mode !== 'elevenlabs-native' ||
      (s.agent.fallbacks === undefined && s.calls.transfer === undefined && s.calls.reprompt === undefined),
  },
  {
    rule: 'has(self.telephony.publicBaseUrl) || has(self.ingress)',
    message: 'telephony.publicBaseUrl or ingress is required so Twilio can reach the gateways',
    fieldPath: '.telephony.publicBaseUrl',
    holds: (s) => s.telephony.publicBaseUrl !== undefined || s.ingress !== undefined,
  },
  {
    rule:
      '!has(self.drain.gracePeriodSeconds) || self.drain.gracePeriodSeconds >= self.calls.maxDurationSeconds || ' +
      '(has(self.drain.handoff) && self.drain.handoff.enabled && ' +
      'self.drain.gracePeriodSeconds > self.drain.preStopSeconds + self.drain.handoff.deadlineSeconds)',
    message:
      'drain.gracePeriodSeconds must be greater than or equal to calls.maxDurationSeconds (with hand-off on: greater than preStopSeconds + handoff.deadlineSeconds)',
    fieldPath: '.drain.gracePeriodSeconds',
    holds: (s) =>
      s.drain.gracePeriodSeconds === undefined ||
      s.drain.gracePeriodSeconds >= s.calls.maxDurationSeconds ||
      (s.drain.handoff?.enabled === true &&
        s.drain.gracePeriodSeconds > s.drain.preStopSeconds + s.drain.handoff.deadlineSeconds),
  },
  {
    rule: "!has(self.calls.recording) || (has(self.memory) && self.telephony.mode == 'twilio-stream')",
    message:
      "calls.recording needs memory (the store's bucket and key) and telephony mode twilio-stream (the audio must cross the gateways)",
    fieldPath: '.calls.recording',
    holds: (s) =>
      s.calls.recording === undefined || (s.memory !== undefined && s.telephony.mode === 'twilio-stream'),
  },
  {
    rule: '!has(self.autoscaling.targetActiveCallsPerPod) || self.autoscaling.targetActiveCallsPerPod <= self.calls.maxConcurrentPerPod',
    message: 'autoscaling.targetActiveCallsPerPod must be less than or equal to calls.maxConcurrentPerPod',
    fieldPath: '.autoscaling.targetActiveCallsPerPod',
    holds: (s) =>
      s.autoscaling.targetActiveCallsPerPod === undefined ||
      s.autoscaling.targetActiveCallsPerPod <= s.calls.maxConcurrentPerPod,
  },
);

const count = (description: string) => z.int().min(0).optional().describe(description);
/** How the call counts follow the calls (the operator's --call-status-refresh). */
const CALL_COUNT_PACE =
  " A change of the call counts alone is written as the operator's --call-status-refresh says: with its notices on, by default only together with another status change (the pods' busy marks and callfleet status are live).";

export const VoiceAgentStatusSchema = z
  .strictObject({
    observedGeneration: count('The .metadata.generation the status describes.'),
    conditions: conditionsList('Ready, Progressing and Degraded conditions.').optional(),
    replicas: count(
      'Gateway pods that exist (scale subresource status replicas). A change of the pod counts alone reaches the status at most every 5 s.',
    ),
    readyReplicas: count(
      'Gateway pods ready to take calls. A change of the pod counts alone reaches the status at most every 5 s.',
    ),
    drainingReplicas: count(`Gateway pods terminating while they finish live calls.${CALL_COUNT_PACE}`),
    desiredReplicas: count('Gateway pods wanted now: spec.replicas raised by an active schedule window.'),
    busyReplicas: count(`Gateway pods carrying live calls (never chosen for scale-down).${CALL_COUNT_PACE}`),
    activeCalls: count(`Live calls across the fleet.${CALL_COUNT_PACE}`),
    selector: z
      .string()
      .max(4096)
      .optional()
      .describe('Label selector of the gateway pods, in string form (scale subresource).'),
    webhookUrl: z.string().max(2048).optional().describe('URL to configure as the Twilio voice webhook.'),
    streamUrl: z.string().max(2048).optional().describe('wss URL prefix of the media streams.'),
    lastGoodGeneration: count('Last generation that rolled out without exceeding the call failure rate.'),
    lastGoodTemplate: z
      .string()
      .max(63)
      .optional()
      .describe(
        'pod-template-hash of the ReplicaSet of the last good generation (the rollback target; stable where revision numbers are not).',
      ),
    failedGeneration: count('Generation that was rolled back; it is not retried until the spec changes.'),
  })
  .describe('Observed state of the VoiceAgent.');

/** VoiceAgent names become Service and Deployment name prefixes: a DNS-1035 label with room for suffixes. */
export const VoiceAgentSchema = celRefine(
  resourceSchema(
    'VoiceAgent',
    VoiceAgentSpecSchema,
    VoiceAgentStatusSchema,
    'A fleet of voice-gateway pods answering Twilio calls with an AI agent, without cutting live calls on deploys, scale-down or drains.',
  ),
  {
    rule: "self.metadata.name.size() <= 48 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
    message:
      'metadata.name must be a lower-case DNS-1035 label (letters, digits, "-", starting with a letter) of at most 48 characters',
    fieldPath: '.metadata.name',
  },
  (v) => {
    const name = v.metadata.name;
    return name === undefined || (name.length <= 48 && /^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(name));
  },
);

export type VoiceAgent = z.output<typeof VoiceAgentSchema>;
export type VoiceAgentInput = z.input<typeof VoiceAgentSchema>;
export type VoiceAgentSpec = z.output<typeof VoiceAgentSpecSchema>;
export type VoiceAgentStatus = z.output<typeof VoiceAgentStatusSchema>;
export type AgentSpec = z.output<typeof AgentSchema>;
export type TelephonySpec = z.output<typeof TelephonySchema>;
export type CallsSpec = z.output<typeof CallsSchema>;
export type AutoscalingSpec = z.output<typeof AutoscalingSchema>;
export type DrainSpec = z.output<typeof DrainSchema>;
export type IngressSpec = z.output<typeof IngressSchema>;

/** Seconds a draining pod keeps after its hand-off deadline: REST updates, stragglers' goodbyes, exit. */
export const HANDOFF_MARGIN_SECONDS = 30;

/**
 * Live-call hand-off is in effect: drain.handoff.enabled and a MemoryStore to carry the conversation
 * (without memory the gateway drains as before, so the grace period must stay long).
 */
export function handoffActive(spec: VoiceAgentSpec): boolean {
  return spec.drain.handoff?.enabled === true && spec.memory !== undefined;
}

/**
 * drain.gracePeriodSeconds, or its computed default: calls.maxDurationSeconds + 60, or with hand-off in
 * effect preStopSeconds + handoff.deadlineSeconds + HANDOFF_MARGIN_SECONDS (a rollout then takes
 * minutes, not the longest call).
 */
export function drainGracePeriodSeconds(spec: VoiceAgentSpec): number {
  if (spec.drain.gracePeriodSeconds !== undefined) return spec.drain.gracePeriodSeconds;
  const handoff = spec.drain.handoff;
  if (handoff && handoffActive(spec))
    return spec.drain.preStopSeconds + handoff.deadlineSeconds + HANDOFF_MARGIN_SECONDS;
  return spec.calls.maxDurationSeconds + 60;
}
