// CallCampaign: outbound calls to a list of recipients through a VoiceAgent, paced by the fleet's free
// call slots. Recipients are personal data: they come from a Secret and live encrypted in the
// VoiceAgent's MemoryStore; the CR and its status carry counts only.
import { z } from 'zod';
import { celChecks } from '../cel.ts';
import { conditionsList, objectName, resourceSchema, secretRef } from './common.ts';
import { timeZoneName, WEEKDAYS } from './voiceagent.ts';

const HHMM = /^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$/;
/** E.164: + and 8–15 digits. */
export const E164 = /^\+[1-9][0-9]{7,14}$/;
const COLUMN = /^[a-z_][a-z0-9_]{0,62}$/;

export const RecipientsSchema = z
  .strictObject({
    csvSecretRef: secretRef(
      'Secret key holding the recipients as CSV: a header row, one row per recipient, one column per variable. Imported once into the MemoryStore (encrypted); later changes to the Secret are not re-read.',
    ),
    phoneColumn: z
      .string()
      .regex(COLUMN)
      .default('phone')
      .describe('CSV column with the E.164 number to call.'),
    timeZoneColumn: z
      .string()
      .regex(COLUMN)
      .default('timezone')
      .describe(
        "Optional CSV column with the recipient's IANA time zone; when absent or empty the zone is derived from the number, else spec.timeZone.",
      ),
    priorityColumn: z
      .string()
      .regex(COLUMN)
      .default('priority')
      .describe('Optional CSV column with an integer priority (higher is dialed first; default 0).'),
  })
  .describe(
    'Where the recipients come from. Every other column is passed to the agent as a dynamic variable of the call.',
  );

export const CallingWindowSchema = z
  .strictObject({
    start: z
      .string()
      .regex(HHMM)
      .default('08:00')
      .describe("Earliest local time to dial, HH:MM in each recipient's zone."),
    end: z
      .string()
      .regex(HHMM)
      .default('21:00')
      .describe("Latest local time to dial (exclusive), HH:MM in each recipient's zone."),
    days: z
      .array(z.enum(WEEKDAYS))
      .min(1)
      .max(7)
      .default([...WEEKDAYS])
      .describe('Local days on which recipients may be dialed (Mon..Sun).'),
  })
  .describe(
    "When a recipient may be dialed, evaluated in the recipient's own local time (default 08:00–21:00 every day).",
  );

/** The fastest pace a campaign may dial at; the webhook rate limit of the front door is sized from it. */
export const MAX_CALLS_PER_SECOND = 100;

export const PacingSchema = z
  .strictObject({
    maxConcurrentCalls: z
      .int()
      .min(1)
      .max(10000)
      .default(10)
      .describe(
        'At most this many calls of this campaign are live (dialing, ringing or in progress) at once.',
      ),
    callsPerSecond: z
      .int()
      .min(1)
      .max(MAX_CALLS_PER_SECOND)
      .default(1)
      .describe(
        'At most this many new calls are placed in any one second (slower campaigns: lower maxConcurrentCalls).',
      ),
    inboundHeadroom: z
      .int()
      .min(0)
      .max(10000)
      .default(2)
      .describe(
        "Free call slots of the VoiceAgent's fleet kept for inbound calls: the campaign dials only into free slots beyond these. A full fleet pauses dialing.",
      ),
    slowDownAboveFailureRate: z
      .number()
      .min(0)
      .max(1)
      .default(0.3)
      .describe(
        'When more than this share of the last 50 finished attempts failed (Twilio failed or a gateway refusal), the dial rate is halved until it falls again.',
      ),
  })
  .describe('How fast the campaign dials.');

export const RetrySchema = z
  .strictObject({
    maxAttempts: z
      .int()
      .min(1)
      .max(10)
      .default(3)
      .describe('Attempts per recipient, the first one included.'),
    backoffSeconds: z
      .int()
      .min(1)
      .max(604800)
      .default(600)
      .describe('Wait before the second attempt; each further retry waits twice as long.'),
    maxBackoffSeconds: z.int().min(1).max(604800).default(86400).describe('Longest wait between attempts.'),
    // Not `on`: YAML 1.1 readers (kubectl, sigs.k8s.io/yaml) read that key as the boolean true.
    outcomes: z
      .array(z.enum(['busy', 'no-answer', 'failed', 'voicemail']))
      .max(4)
      .default(['busy', 'no-answer', 'failed'])
      .describe('Outcomes that are retried (others are final).'),
  })
  .describe('Retries of unsuccessful attempts.');

export const AnsweringMachineSchema = z
  .strictObject({
    detect: z
      .boolean()
      .default(true)
      .describe('Ask Twilio for answering-machine detection (MachineDetection=DetectMessageEnd).'),
    action: z
      .enum(['hangup', 'message'])
      .default('hangup')
      .describe('What a call answered by a machine gets: hang up, or leave voicemailMessage after the beep.'),
    voicemailMessage: z
      .string()
      .min(1)
      .max(500)
      .optional()
      .describe(
        'Text spoken to the voicemail when action is message (no personal data: it is not encrypted).',
      ),
  })
  .describe('Answering-machine detection and what a voicemail gets.');

const specBase = z
  .strictObject({
    voiceAgentRef: z
      .strictObject({ name: objectName('Name of the VoiceAgent in the same namespace.') })
      .describe('The VoiceAgent whose fleet carries the calls; it must use a MemoryStore (memory.storeRef).'),
    callerId: z
      .string()
      .regex(E164)
      .describe('The Twilio number the calls come from (E.164, e.g. +14155550100).'),
    recipients: RecipientsSchema,
    startTime: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('No call is placed before this time (RFC 3339); default: at once.'),
    timeZone: timeZoneName(
      'Time zone of recipients whose zone is neither given nor derivable from their number.',
    ),
    callingWindow: CallingWindowSchema.prefault({}),
    pacing: PacingSchema.prefault({}),
    retry: RetrySchema.prefault({}),
    answeringMachine: AnsweringMachineSchema.prefault({}),
    optOut: z
      .strictObject({
        dtmfDigit: z
          .string()
          .regex(/^[0-9*#]$/)
          .optional()
          .describe(
            'A key that puts the recipient on the do-not-call list when pressed during the call (the agent can also call its opt_out tool).',
          ),
      })
      .prefault({})
      .describe(
        "How a recipient opts out; the MemoryStore's do-not-call list is honoured by every campaign.",
      ),
    ringTimeoutSeconds: z
      .int()
      .min(5)
      .max(600)
      .default(30)
      .describe('How long a call rings before it counts as no-answer (Twilio Timeout).'),
    suspend: z
      .boolean()
      .default(false)
      .describe('true: place no new call (live ones go on); false again resumes where it stopped.'),
  })
  .describe('Desired state of the CallCampaign.');

export const CallCampaignSpecSchema = celChecks(
  specBase,
  {
    rule: "self.answeringMachine.action != 'message' || has(self.answeringMachine.voicemailMessage)",
    message: 'answeringMachine.voicemailMessage is required when action is message',
    fieldPath: '.answeringMachine.voicemailMessage',
    holds: (s) =>
      s.answeringMachine.action !== 'message' || s.answeringMachine.voicemailMessage !== undefined,
  },
  {
    rule: 'self.callingWindow.start < self.callingWindow.end',
    message: 'callingWindow.start must be before callingWindow.end',
    fieldPath: '.callingWindow.end',
    holds: (s) => s.callingWindow.start < s.callingWindow.end,
  },
  {
    rule: 'self.retry.backoffSeconds <= self.retry.maxBackoffSeconds',
    message: 'retry.backoffSeconds must not exceed retry.maxBackoffSeconds',
    fieldPath: '.retry.backoffSeconds',
    holds: (s) => s.retry.backoffSeconds <= s.retry.maxBackoffSeconds,
  },
);

const count = (what: string) => z.int().min(0).optional().describe(what);

export const CampaignCountsSchema = z
  .strictObject({
    total: count('Recipients imported.'),
    pending: count('Recipients waiting for their next attempt (first or retry).'),
    dialing: count('Attempts recorded and sent to Twilio, not yet answered.'),
    inProgress: count('Calls answered and live.'),
    completed: count('Recipients who answered (final).'),
    voicemail: count('Recipients reached on voicemail (final unless voicemail is retried).'),
    busy: count('Recipients whose last attempt was busy and who have no attempts left.'),
    noAnswer: count('Recipients whose last attempt was not answered and who have no attempts left.'),
    failed: count('Recipients whose last attempt failed and who have no attempts left.'),
    optedOut: count('Recipients on the do-not-call list (skipped or opted out during a call).'),
    canceled: count('Recipients not dialed because the campaign was deleted or the recipient erased.'),
    remainingAttempts: count('Attempts still possible across all unfinished recipients.'),
  })
  .describe('Recipient counts (never numbers or variables).');

export const CallCampaignStatusSchema = z
  .strictObject({
    observedGeneration: z.int().min(0).optional().describe('The .metadata.generation the status describes.'),
    phase: z
      .enum(['Pending', 'Running', 'Suspended', 'Waiting', 'Completed', 'Failed'])
      .optional()
      .describe(
        'Pending: not imported yet; Running: dialing; Waiting: nobody may be dialed now (window, backoff, full fleet); Suspended; Completed: every recipient is final; Failed: the spec or its references are unusable.',
      ),
    counts: CampaignCountsSchema.optional(),
    done: z.int().min(0).optional().describe('Recipients in a final state.'),
    eta: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('Estimated completion at the current dial rate (calling windows not counted).'),
    conditions: conditionsList(
      'Ready (imported and usable), Progressing and Degraded conditions.',
    ).optional(),
  })
  .describe('Observed state of the CallCampaign: counts only.');

export const CallCampaignSchema = resourceSchema(
  'CallCampaign',
  CallCampaignSpecSchema,
  CallCampaignStatusSchema,
  'Outbound calls to a list of recipients through a VoiceAgent, paced by the free capacity of its fleet.',
);

export type CallCampaign = z.output<typeof CallCampaignSchema>;
export type CallCampaignSpec = z.output<typeof CallCampaignSpecSchema>;
export type CallCampaignStatus = z.output<typeof CallCampaignStatusSchema>;
export type CampaignCounts = z.output<typeof CampaignCountsSchema>;
