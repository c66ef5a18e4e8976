// callfleet.io/v1alpha1: the schemas, their inferred types, parse functions and the CRD facts
// (names, subresources, printer columns) the generator needs.
import type { z } from 'zod';
import { GROUP, type ParseResult, parseWith, VERSION } from './common.ts';
import { type MemoryStore, MemoryStoreSchema } from './memorystore.ts';
import { type VoiceAgent, VoiceAgentSchema } from './voiceagent.ts';

export * from './common.ts';
export * from './gateway-fit.ts';
export * from './ingress-fit.ts';
export * from './memorystore.ts';
export * from './voiceagent.ts';

export function parseVoiceAgent(obj: unknown): ParseResult<VoiceAgent> {
  return parseWith(VoiceAgentSchema, obj);
}

export function parseMemoryStore(obj: unknown): ParseResult<MemoryStore> {
  return parseWith(MemoryStoreSchema, obj);
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
      ready,
      { name: 'Replicas', type: 'integer', jsonPath: '.status.replicas', description: 'Gateway pods.' },
      { name: 'Active Calls', type: 'integer', jsonPath: '.status.activeCalls', description: 'Live calls.' },
      { name: 'Provider', type: 'string', jsonPath: '.spec.agent.provider', description: 'Agent backend.' },
      age,
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
];
