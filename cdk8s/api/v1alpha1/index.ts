// callfleet.io/v1alpha1: the schemas, their inferred types, parse functions and the CRD facts
// (names, subresources, printer columns) the generator needs.
import type { z } from 'zod';
import { type CallCampaign, CallCampaignSchema } from './callcampaign.ts';
import { GROUP, type ParseResult, parseWith, VERSION } from './common.ts';
import { type MemoryStore, MemoryStoreSchema } from './memorystore.ts';
import { type VoiceAgent, VoiceAgentSchema } from './voiceagent.ts';

export * from './callcampaign.ts';
export * from './common.ts';
export * from './gateway-fit.ts';
export * from './ingress-fit.ts';
export * from './memorystore.ts';
export * from './memorystore-engines.ts';
export * from './voiceagent.ts';

export function parseVoiceAgent(obj: unknown): ParseResult<VoiceAgent> {
  return parseWith(VoiceAgentSchema, obj);
}

export function parseMemoryStore(obj: unknown): ParseResult<MemoryStore> {
  return parseWith(MemoryStoreSchema, obj);
}

export function parseCallCampaign(obj: unknown): ParseResult<CallCampaign> {
  return parseWith(CallCampaignSchema, obj);
}

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  priority?: number;
}

export interface KindDefinition {
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  schema: z.ZodType;
  scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath: string };
  printerColumns: PrinterColumn[];
}

const ready: PrinterColumn = {
  name: 'Ready',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].status',
  description: 'Whether the Ready condition is True.',
};
const reason: PrinterColumn = {
  name: 'Reason',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
  description: 'Why the VoiceAgent is (not) Ready, e.g. InvalidSpec, SecretNotFound, MemoryStoreNotReady.',
};
const age: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
  description: 'Time since creation.',
};

export const kinds: KindDefinition[] = [
  {
    group: GROUP,
    version: VERSION,
    kind: 'VoiceAgent',
    plural: 'voiceagents',
    singular: 'voiceagent',
    shortNames: ['va'],
    categories: ['callfleet'],
    schema: VoiceAgentSchema,
    scale: {
      specReplicasPath: '.spec.replicas',
      statusReplicasPath: '.status.replicas',
      labelSelectorPath: '.status.selector',
    },
    printerColumns: [
      {
        name: 'Desired',
        type: 'integer',
        jsonPath: '.status.desiredReplicas',
        description: 'Gateway pods wanted (spec.replicas, raised by a schedule window).',
      },
      {
        name: 'Ready',
        type: 'integer',
        jsonPath: '.status.readyReplicas',
        description: 'Gateway pods ready to take calls.',
      },
      {
        name: 'Busy',
        type: 'integer',
        jsonPath: '.status.busyReplicas',
        description: 'Gateway pods carrying live calls.',
      },
      {
        name: 'Draining',
        type: 'integer',
        jsonPath: '.status.drainingReplicas',
        description: 'Gateway pods finishing their calls before they exit.',
      },
      { name: 'Calls', type: 'integer', jsonPath: '.status.activeCalls', description: 'Live calls.' },
      reason,
      { name: 'Provider', type: 'string', jsonPath: '.spec.agent.provider', description: 'Agent backend.' },
      age,
      {
        name: 'Message',
        type: 'string',
        jsonPath: '.status.conditions[?(@.type=="Ready")].message',
        description: 'Message of the Ready condition.',
        priority: 1,
      },
      {
        name: 'Webhook',
        type: 'string',
        jsonPath: '.status.webhookUrl',
        description: 'URL to configure as the Twilio voice webhook.',
        priority: 1,
      },
    ],
  },
  {
    group: GROUP,
    version: VERSION,
    kind: 'MemoryStore',
    plural: 'memorystores',
    singular: 'memorystore',
    shortNames: ['mstore'],
    categories: ['callfleet'],
    schema: MemoryStoreSchema,
    printerColumns: [
      ready,
      { name: 'Engine', type: 'string', jsonPath: '.spec.engine', description: 'postgres or external.' },
      {
        name: 'Endpoint',
        type: 'string',
        jsonPath: '.status.endpoint',
        description: 'host:port of the database.',
      },
      age,
    ],
  },
  {
    group: GROUP,
    version: VERSION,
    kind: 'CallCampaign',
    plural: 'callcampaigns',
    singular: 'callcampaign',
    shortNames: ['ccamp'],
    categories: ['callfleet'],
    schema: CallCampaignSchema,
    printerColumns: [
      {
        name: 'Agent',
        type: 'string',
        jsonPath: '.spec.voiceAgentRef.name',
        description: 'VoiceAgent carrying the calls.',
      },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Campaign phase.' },
      {
        name: 'Total',
        type: 'integer',
        jsonPath: '.status.counts.total',
        description: 'Recipients imported.',
      },
      {
        name: 'Done',
        type: 'integer',
        jsonPath: '.status.done',
        description: 'Recipients in a final state.',
      },
      {
        name: 'Live',
        type: 'integer',
        jsonPath: '.status.counts.inProgress',
        description: 'Calls answered and live.',
      },
      // string, not date: kubectl prints a date column as an age, which a future time does not have.
      {
        name: 'ETA',
        type: 'string',
        jsonPath: '.status.eta',
        description: 'Estimated completion (RFC 3339).',
      },
      {
        name: 'Suspended',
        type: 'boolean',
        jsonPath: '.spec.suspend',
        description: 'Whether new dials are suspended.',
        priority: 1,
      },
      age,
    ],
  },
];
