// What the e2e scenarios share: an operated fleet (control plane, process kubelet, CRDs, the real
// operator), test VoiceAgents behind nginx in a namespace of their own, and the report line they print.
import {
  type Fleet,
  type FleetOptions,
  GATEWAY_TEST_IMAGE,
  startFleetEnvironment,
} from '../support/fleet.ts';
import { kubectlOk, waitForCrdsEstablished, waitForReady } from '../support/kube-helpers.ts';
import { twilioSecretRefs } from '../support/manifests.ts';
import type { FrontDoor } from '../support/nginx.ts';
import { type OperatorProcess, startOperator } from '../support/operator.ts';
import { waitFor } from '../support/processes.ts';
import type { Target } from './call-load.ts';
import { GatewayPods } from './gateway-pods.ts';

const root = new URL('../../', import.meta.url).pathname;

export const TWILIO_ACCOUNT_SID = 'AC00000000000000000000000000000000';

/** A fleet with the CRDs installed and the real operator running; `stop()` stops the operator first. */
export interface OperatedFleet extends Fleet {
  operator: OperatorProcess;
}

export interface OperatedFleetOptions extends FleetOptions {
  /** CRDs that must be Established before the operator starts (default: the VoiceAgent CRD). */
  crds?: string[];
  operatorArgs?: string[];
}

export async function startOperatedFleet(options: OperatedFleetOptions = {}): Promise<OperatedFleet> {
  const { crds = ['voiceagents.callfleet.io'], operatorArgs = [], ...fleetOptions } = options;
  const fleet = await startFleetEnvironment(fleetOptions);
  try {
    await kubectlOk(fleet.cluster, ['apply', '--server-side', '-f', `${root}crds`]);
    await waitForCrdsEstablished(fleet.cluster, crds, 30_000);
    const operator = await startOperator(fleet.cluster, operatorArgs);
    return {
      ...fleet,
      operator,
      async stop() {
        await operator.stop();
        await fleet.stop();
      },
    };
  } catch (error) {
    await fleet.stop();
    throw error;
  }
}

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: Record<string, unknown>;
}

export interface VoiceAgentManifest extends Manifest {
  spec: Record<string, unknown> & { replicas: number };
}

/**
 * A VoiceAgent on the test image with its Twilio credentials in the Secret `twilio`, behind nginx at
 * `<name>.calls.example.com`, autoscaling off; `spec` adds fields or replaces these.
 */
export function voiceAgent(name: string, spec: VoiceAgentManifest['spec']): VoiceAgentManifest {
  return {
    apiVersion: 'callfleet.io/v1alpha1',
    kind: 'VoiceAgent',
    metadata: { name },
    spec: {
      telephony: { twilio: twilioSecretRefs() },
      ingress: { className: 'nginx', host: `${name}.calls.example.com` },
      autoscaling: { enabled: false },
      image: GATEWAY_TEST_IMAGE,
      ...spec,
    },
  };
}

/** `voiceAgent` with the echo backend. */
export function echoVoiceAgent(name: string, spec: VoiceAgentManifest['spec']): VoiceAgentManifest {
  return voiceAgent(name, { agent: { provider: 'echo' }, ...spec });
}

export interface Agent {
  ns: string;
  name: string;
  door: FrontDoor;
  target: Target;
  pods: GatewayPods;
}

export interface AgentOptions {
  /** The Twilio auth token callers sign with (the Secret `twilio` holds it). */
  authToken: string;
  /** Secrets besides `twilio`: Secret name → key → value. */
  secrets?: Record<string, Record<string, string>>;
  /** Applied and waited Ready, in order, before the VoiceAgent (e.g. its MemoryStore). */
  dependencies?: Manifest[];
  /** How long each object may take to be Ready (default 120 s). */
  readyTimeoutMs?: number;
  /** How long nginx may take to have every replica behind it (default 30 s). */
  serversTimeoutMs?: number;
}

/**
 * Namespace `<name>` with the Twilio Secret (and `secrets`), the dependencies and the VoiceAgent applied
 * and Ready (the operator did the rest), then nginx in front with every replica behind it.
 */
export async function startAgent(
  fleet: Fleet,
  va: VoiceAgentManifest,
  options: AgentOptions,
): Promise<Agent> {
  const name = va.metadata.name;
  const ns = name;
  await kubectlOk(fleet.cluster, ['create', 'namespace', ns]);
  const secrets = {
    twilio: { 'account-sid': TWILIO_ACCOUNT_SID, 'auth-token': options.authToken },
    ...options.secrets,
  };
  for (const [secret, data] of Object.entries(secrets)) {
    await kubectlOk(fleet.cluster, [
      'create',
      'secret',
      'generic',
      secret,
      '-n',
      ns,
      ...Object.entries(data).map(([key, value]) => `--from-literal=${key}=${value}`),
    ]);
  }
  for (const doc of [...(options.dependencies ?? []), va]) {
    await kubectlOk(fleet.cluster, ['apply', '-n', ns, '-f', '-'], JSON.stringify(doc));
    const resource = `${doc.kind.toLowerCase()}/${doc.metadata.name}`;
    await waitForReady(fleet.cluster, ns, resource, options.readyTimeoutMs ?? 120_000);
  }
  const door = await fleet.frontDoor(ns, name);
  const replicas = va.spec.replicas;
  const serversTimeoutMs = options.serversTimeoutMs ?? 30_000;
  await door.waitForServers(`${name}-streams`, (s) => s.length === replicas, serversTimeoutMs);
  await door.waitForServers(`${name}-webhooks`, (s) => s.length === replicas, serversTimeoutMs);
  return {
    ns,
    name,
    door,
    target: {
      gatewayUrl: door.url,
      publicBaseUrl: `https://${name}.calls.example.com`,
      authToken: options.authToken,
    },
    pods: new GatewayPods(fleet.cluster.kc, ns, name),
  };
}

/** Stops nginx, deletes the namespace and waits until its pods are gone (so the next scenario has the CPU). */
export async function stopAgent(fleet: Fleet, agent: Agent, podsGoneTimeoutMs: number): Promise<void> {
  await agent.door.stop();
  await kubectlOk(fleet.cluster, ['delete', 'namespace', agent.ns, '--wait=false']);
  await waitFor(
    `pods of ${agent.ns} gone`,
    async () => (await agent.pods.list()).length === 0,
    podsGoneTimeoutMs,
    500,
  );
}

/** A merge patch of the VoiceAgent's spec. */
export async function patchVoiceAgent(
  fleet: Fleet,
  agent: Pick<Agent, 'ns' | 'name'>,
  spec: Record<string, unknown>,
): Promise<void> {
  await kubectlOk(fleet.cluster, [
    'patch',
    '-n',
    agent.ns,
    'va',
    agent.name,
    '--type=merge',
    '-p',
    JSON.stringify({ spec }),
  ]);
}

/** Seconds since a `performance.now()` reading, to one decimal. */
export function secondsSince(startedAt: number): string {
  return ((performance.now() - startedAt) / 1000).toFixed(1);
}

/** `[suite] scenario: <calls> (wall N s); extra`: the line every scenario prints. */
export function reportLine(
  suite: string,
  scenario: string,
  calls: string,
  startedAt: number,
  extra = '',
): string {
  return `[${suite}] ${scenario}: ${calls} (wall ${secondsSince(startedAt)} s)${extra ? `; ${extra}` : ''}`;
}
