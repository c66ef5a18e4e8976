// The connection budget of a MemoryStore: how many connections the fleet using it can open at its
// peak, the pool size each gateway gets, and the max_connections the server runs with. One pure
// function: the MemoryStore render (max_connections), the VoiceAgent render (pool size), the
// operator's status and `callfleet render` all compute it from the same inputs.
import { CONNECTION_DEFAULTS, type MemoryStoreSpec, MIN_POOL_PER_GATEWAY } from '../../api/v1alpha1/index.ts';

/** One pod more than maxReplicas exists during a rolling update (the gateway Deployment's maxSurge). */
export const ROLLOUT_SURGE = 1;
/** max_connections is rounded up to this step, so small fleet changes do not restart the database. */
export const MAX_CONNECTIONS_STEP = 25;

/** A VoiceAgent using the store, as far as the budget cares. */
export interface FleetMember {
  name: string;
  maxReplicas: number;
}

export interface ConnectionBudget {
  /** max_connections the server runs with (postgres, cloudnative-pg) or allows callfleet (external). */
  maxConnections: number;
  poolPerGateway: number;
  gatewaysAtPeak: number;
  /** gatewaysAtPeak × poolPerGateway + reserved. */
  needed: number;
  voiceAgents: number;
  fits: boolean;
  /** One line for the ConnectionBudget condition. */
  message: string;
}

type Connections = MemoryStoreSpec['connections'];

export function connectionBudget(
  engine: MemoryStoreSpec['engine'],
  connections: Partial<Connections> | undefined,
  fleet: FleetMember[],
): ConnectionBudget {
  const cap = connections?.maxConnections ?? CONNECTION_DEFAULTS.maxConnections;
  const reserved = connections?.reserved ?? CONNECTION_DEFAULTS.reserved;
  const maxPool = connections?.maxPoolPerGateway ?? CONNECTION_DEFAULTS.maxPoolPerGateway;
  const gateways = fleet.reduce((sum, va) => sum + va.maxReplicas + ROLLOUT_SURGE, 0);
  let pool = maxPool;
  if (gateways > 0 && gateways * pool + reserved > cap) pool = Math.floor((cap - reserved) / gateways);
  const fits = pool >= MIN_POOL_PER_GATEWAY;
  if (!fits) pool = MIN_POOL_PER_GATEWAY;
  const needed = gateways * pool + reserved;
  const rounded = Math.ceil(needed / MAX_CONNECTIONS_STEP) * MAX_CONNECTIONS_STEP;
  const maxConnections = engine === 'external' ? cap : Math.min(cap, Math.max(rounded, MAX_CONNECTIONS_STEP));
  const sum = `${gateways} gateway pods at peak (Σ maxReplicas + ${ROLLOUT_SURGE} over ${fleet.length} VoiceAgents)`;
  const message = fits
    ? `${sum} × pool ${pool} + ${reserved} reserved = ${needed} ≤ max_connections ${maxConnections}`
    : `${sum} × the smallest pool ${MIN_POOL_PER_GATEWAY} + ${reserved} reserved = ${needed} > spec.connections.maxConnections ${cap}: raise spec.connections.maxConnections or lower maxReplicas`;
  return {
    maxConnections,
    poolPerGateway: pool,
    gatewaysAtPeak: gateways,
    needed,
    voiceAgents: fleet.length,
    fits,
    message,
  };
}
