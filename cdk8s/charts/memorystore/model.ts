// Everything the MemoryStore children derive from the spec.
import { randomBytes } from 'node:crypto';
import type { MemoryStore, MemoryStoreSpec } from '../../api/v1alpha1/index.ts';
import { type Labels, memoryStoreNames, type OwnerModel, ownerModel, postgresSelector } from '../labels.ts';
import { type ConnectionBudget, connectionBudget, type FleetMember } from './budget.ts';

export const POSTGRES_PORT = 5432;
export const POSTGRES_USER = 'callfleet';
export const POSTGRES_DB = 'callfleet';
/** uid/gid of the postgres user in the official image. */
export const POSTGRES_UID = 999;

/**
 * How the operator keeps generated secrets stable: Secrets marked `callfleet.io/create-only` are
 * created once and never overwritten. On later reconciles the operator passes `existingPasswordSecret`
 * (omit the credentials and connection Secrets: they exist) or, to re-render them identically, the
 * existing `password`. `randomBytes` is the only source of randomness (tests pass a fixed one).
 */
export interface MemoryStoreRenderContext {
  existingPasswordSecret?: boolean;
  password?: string;
  existingEncryptionSecret?: boolean;
  encryptionKey?: string;
  /** The TLS Secret already generated for the postgres engine (re-rendered identically). */
  tls?: PostgresTls;
  /** The VoiceAgents using the store: the connection budget is computed from them. */
  fleet?: FleetMember[];
  randomBytes?: (size: number) => Uint8Array;
  /** The clock of certificate validity (tests pass a fixed one). */
  now?: () => Date;
  /** The operator's namespace: admitted to the database (probes, campaign dialers). */
  operatorNamespace?: string;
  /** The product image the backup CronJob runs (the operator passes its gateway defaults). */
  product?: { image?: string; imagePullPolicy?: string; imagePullSecrets?: string[] };
}

/** PEM CA certificate, server certificate and server key of the postgres engine. */
export interface PostgresTls {
  'ca.crt': string;
  'tls.crt': string;
  'tls.key': string;
}

export interface MemoryStoreModel extends OwnerModel {
  ms: MemoryStore;
  spec: MemoryStoreSpec;
  names: ReturnType<typeof memoryStoreNames>;
  selector: Labels;
  ctx: MemoryStoreRenderContext;
  random(size: number): string;
  randomRaw(size: number): Uint8Array;
  now(): Date;
  budget: ConnectionBudget;
}

export function memoryStoreModel(ms: MemoryStore, ctx: MemoryStoreRenderContext): MemoryStoreModel {
  const base = ownerModel('MemoryStore', ms.metadata);
  const name = base.owner.name;
  const source = ctx.randomBytes ?? ((n: number) => randomBytes(n));
  return {
    ...base,
    ms,
    spec: ms.spec,
    names: memoryStoreNames(name),
    selector: postgresSelector(name),
    ctx,
    random: (size) => Buffer.from(source(size)).toString('base64'),
    randomRaw: (size) => source(size),
    now: ctx.now ?? (() => new Date()),
    budget: connectionBudget(ms.spec.engine, ms.spec.connections, ctx.fleet ?? []),
  };
}
