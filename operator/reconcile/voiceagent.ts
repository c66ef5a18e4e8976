// VoiceAgent: observe → parse → render → apply → prune → scale → status.
import type { KubernetesObject, V1Deployment, V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { parseMemoryStore, parseVoiceAgent } from '../../cdk8s/api/v1alpha1/index.ts';
import {
  type MemoryStoreContext,
  memoryStoreConnection,
  renderVoiceAgent,
} from '../../cdk8s/charts/index.ts';
import { voiceAgentNames } from '../../cdk8s/charts/labels.ts';
import type { ReconcileOutcome } from '../runtime/work-queue.ts';
import { scaleGateways } from '../scaling/scale-gateways.ts';
import { scheduledMinimum } from '../scaling/schedule.ts';
import { applyChildren, pruneChildren } from './children.ts';
import { type Condition, condition, findCondition } from './conditions.ts';
import { fleetOf } from './connection-budget.ts';
import type { ReconcileContext } from './context.ts';
import { guardRollout, holdRolledBackTemplate } from './rollout.ts';
import { type HTTPRouteObject, routeAcceptedCondition } from './route-status.ts';
import { missingSecret, referencedSecrets } from './secret-refs.ts';
import { type WithStatus, writeStatus } from './status.ts';

export async function reconcileVoiceAgent(
  ctx: ReconcileContext,
  key: string,
  log: Logger,
): Promise<ReconcileOutcome> {
  const va = ctx.voiceAgents.get(key);
  if (!va || va.metadata?.deletionTimestamp) {
    ctx.secretIndex?.delete(key);
    return;
  }
  const generation = va.metadata?.generation;

  const parsed = parseVoiceAgent(va);
  if (!parsed.ok) {
    const message = parsed.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
    log.warn({ issues: parsed.issues }, 'invalid spec');
    await invalid(ctx, va, message, generation);
    return;
  }
  const spec = parsed.value.spec;

  let memoryStore: MemoryStoreContext | undefined;
  const storeName = spec.memory?.storeRef?.name;
  if (storeName) {
    const store = ctx.memoryStores.get(`${va.metadata?.namespace}/${storeName}`);
    const storeReady = findCondition(store?.status?.conditions, 'Ready')?.status === 'True';
    const parsedStore = store ? parseMemoryStore(store) : undefined;
    if (!store || !storeReady || !parsedStore?.ok) {
      const reason = store ? 'MemoryStoreNotReady' : 'MemoryStoreNotFound';
      const message = store
        ? `waiting for MemoryStore ${storeName} (spec.memory.storeRef) to become Ready`
        : `MemoryStore ${storeName} (spec.memory.storeRef) does not exist in namespace ${va.metadata?.namespace}`;
      await notReady(ctx, va, reason, message, generation, 'waiting');
      return;
    }
    memoryStore = {
      ...memoryStoreConnection(
        parsedStore.value,
        fleetOf(ctx.voiceAgents, va.metadata?.namespace ?? '', storeName),
      ),
      ready: storeReady,
    };
  }

  const namespace = va.metadata?.namespace ?? '';
  const name = va.metadata?.name ?? '';
  const calls = ctx.tracker?.summary(namespace, name);
  // The autoscaler writes spec.replicas; an active schedule window raises the floor.
  const desiredReplicas = Math.max(spec.replicas, scheduledMinimum(spec.autoscaling.schedule, new Date()));
  const currentScale = deploymentScale(ctx, namespace, name) ?? desiredReplicas;
  const rendered = renderVoiceAgent(parsed.value, {
    memoryStore,
    trackedReplicas: ctx.tracker ? currentScale : undefined,
    operatorNamespace: ctx.operatorNamespace,
    monitoringLabels: ctx.monitoringLabels,
    streamKey: existingStreamKey(ctx, namespace, name),
    gateway: ctx.gatewayDefaults,
    operatorNoticeUrl: ctx.noticeUrl,
  });
  if (!rendered.ok) {
    await invalid(ctx, va, `${rendered.error.path}: ${rendered.error.message}`, generation);
    return;
  }

  // Every Secret the pods read must exist, with its key, before anything is applied.
  if (ctx.secrets) {
    const refs = referencedSecrets(rendered.objects);
    ctx.secretIndex?.set(key, namespace, new Set(refs.map((r) => r.name)));
    const missing = missingSecret(namespace, refs, (k) => ctx.secrets?.get(k));
    if (missing) {
      log.warn({ reason: missing.reason }, missing.message);
      await notReady(ctx, va, missing.reason, missing.message, generation);
      return;
    }
  }

  const desired = withScale(holdRolledBackTemplate(ctx, va, rendered.objects), currentScale);
  const applied = await applyChildren(ctx.rest, ctx.caches, desired);
  const pruned = await pruneChildren(ctx.rest, ctx.caches, va.metadata?.uid ?? '', desired);
  if (applied.writes || pruned) log.info({ applied: applied.written, pruned }, 'children updated');

  const deployment = [...applied.live.values()].find((o): o is V1Deployment => o.kind === 'Deployment');
  const scale = await scaleGateways(ctx, namespace, name, deployment, desiredReplicas, calls, log);

  const selector = Object.entries(deployment?.spec?.selector?.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const conditions = rolloutConditions(deployment, desiredReplicas, generation);
  const rolledOut = findCondition(conditions, 'Ready')?.status === 'True';
  const renderedDeployment = desired.find((o): o is V1Deployment => o.kind === 'Deployment');
  const rollout = await guardRollout(ctx, va, spec, renderedDeployment, deployment, rolledOut, log);
  conditions.push(...rollout.conditions);
  if (applied.missingKinds.length) {
    conditions.push(
      condition(
        'Degraded',
        true,
        'MissingCRD',
        `not created because their CRDs are not installed: ${applied.missingKinds.join(', ')}`,
        generation,
      ),
    );
  }
  // Gateway API: whether the Gateway accepted the route is part of the VoiceAgent's status.
  const route = [...applied.live.values()].find((o) => o.kind === 'HTTPRoute');
  if (route) conditions.push(routeAcceptedCondition(route as HTTPRouteObject, generation));
  const base = publicUrls(spec);
  const statusDeferredMs = await writeStatus(
    ctx.rest,
    ctx.events,
    va,
    {
      ...baseStatus(va),
      replicas: deployment?.status?.replicas ?? 0,
      readyReplicas: deployment?.status?.readyReplicas ?? 0,
      activeCalls: calls?.activeCalls ?? 0,
      drainingReplicas: calls?.drainingReplicas ?? 0,
      busyReplicas: calls?.busyReplicas ?? 0,
      desiredReplicas,
      selector,
      ...base,
      ...rollout.status,
    },
    conditions,
    ctx.voiceAgents,
    ctx.statusPacer
      ? {
          pacer: ctx.statusPacer,
          counts: COUNT_FIELDS,
          calls: { fields: CALL_FIELDS, refreshMs: ctx.callStatusRefreshMs },
        }
      : undefined,
  );
  // Scale-down waits for pods to go idle, and schedule windows open and close: look again.
  // A rollout under way is judged again after the next poll of its pods' calls. Counts held back by
  // the pacing are written when its window ends. A new scale is in the cache already (its watch echo
  // wakes nobody), and the idle budget is sized from it: render again at once.
  const lookAgain = [
    scale.rescaled ? RESCALED_LOOK_AGAIN_MS : 0,
    scale.waiting || rollout.watching ? (ctx.tracker?.intervalMs ?? 5000) : 0,
    spec.autoscaling.schedule?.length ? 60_000 : 0,
    statusDeferredMs,
  ].filter((ms) => ms > 0);
  return lookAgain.length ? { requeueAfterMs: Math.min(...lookAgain) } : undefined;
}

/** After a rescale: at once (the write-through hides the watch echo that would otherwise wake it). */
const RESCALED_LOOK_AGAIN_MS = 1;
/** Status fields that only count pods (their changes alone are paced, status-pacing.ts). */
const COUNT_FIELDS: ReadonlySet<string> = new Set(['replicas', 'readyReplicas']);
/** Status fields that follow the calls: how often their changes alone are written is --call-status-refresh's to say. */
const CALL_FIELDS: ReadonlySet<string> = new Set(['activeCalls', 'busyReplicas', 'drainingReplicas']);

/** The gateway Deployment's current scale, as the operator last left it; undefined before it exists. */
function deploymentScale(ctx: ReconcileContext, namespace: string, name: string): number | undefined {
  const cached = ctx.caches
    .get('apps/v1/Deployment')
    ?.get(`${namespace}/${voiceAgentNames(name).deployment}`);
  return (cached as V1Deployment | undefined)?.spec?.replicas;
}

/**
 * The gateway Deployment states its current scale, so a new one is created at the desired count rather
 * than at one pod and scaled right after (a ReplicaSet resize, Deployment status writes and Events per
 * VoiceAgent). The count only ever changes through scaleGateways, which writes its answer through to the
 * cache: an apply never moves it, and the operator's apply keeps owning the field (ADR 0032).
 */
function withScale(objects: KubernetesObject[], replicas: number): KubernetesObject[] {
  return objects.map((o) =>
    o.kind === 'Deployment'
      ? ({ ...o, spec: { ...(o as V1Deployment).spec, replicas } } as KubernetesObject)
      : o,
  );
}

function baseStatus(va: WithStatus): Record<string, unknown> {
  return { observedGeneration: va.metadata?.generation };
}

async function invalid(
  ctx: ReconcileContext,
  va: WithStatus,
  message: string,
  generation?: number,
): Promise<void> {
  ctx.metrics.reconciles.inc({ kind: 'VoiceAgent', result: 'invalid' });
  await notReady(ctx, va, 'InvalidSpec', message, generation);
}

/**
 * A reconcile that stops before applying: `degraded` when only the user can fix it (the spec, a Secret:
 * not progressing, degraded), `waiting` when it waits on something that will come (its MemoryStore:
 * progressing, not degraded).
 */
async function notReady(
  ctx: ReconcileContext,
  va: WithStatus,
  reason: string,
  message: string,
  generation?: number,
  why: 'degraded' | 'waiting' = 'degraded',
): Promise<void> {
  const waiting = why === 'waiting';
  await writeStatus(
    ctx.rest,
    ctx.events,
    va,
    baseStatus(va),
    [
      condition('Ready', false, reason, message, generation),
      condition('Progressing', waiting, reason, message, generation),
      waiting
        ? condition('Degraded', false, 'AsExpected', '', generation)
        : condition('Degraded', true, reason, message, generation),
    ],
    ctx.voiceAgents,
  );
}

/** Ready when the Deployment has rolled out the current template to every replica and all are available. */
export function rolloutConditions(
  deployment: V1Deployment | undefined,
  desired: number,
  generation?: number,
): Condition[] {
  if (!deployment?.status) {
    return [
      condition('Ready', false, 'Creating', 'waiting for the gateway Deployment', generation),
      condition('Progressing', true, 'Creating', 'gateway Deployment created', generation),
      condition('Degraded', false, 'AsExpected', '', generation),
    ];
  }
  const s = deployment.status;
  const observed = (s.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0);
  const updated = s.updatedReplicas ?? 0;
  const available = s.availableReplicas ?? 0;
  const total = s.replicas ?? 0;
  const stalled = s.conditions?.find(
    (c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded',
  );
  const rolledOut = observed && updated >= desired && total === updated && available >= desired;
  const message = `${available}/${desired} gateway pods available, ${updated} updated`;
  if (stalled) {
    return [
      condition('Ready', false, 'RolloutStalled', stalled.message ?? message, generation),
      condition('Progressing', false, 'RolloutStalled', stalled.message ?? message, generation),
      condition('Degraded', true, 'RolloutStalled', stalled.message ?? message, generation),
    ];
  }
  return [
    condition('Ready', rolledOut, rolledOut ? 'Available' : 'RollingOut', message, generation),
    condition('Progressing', !rolledOut, rolledOut ? 'RolledOut' : 'RollingOut', message, generation),
    condition('Degraded', false, 'AsExpected', '', generation),
  ];
}

function publicUrls(spec: {
  telephony: { publicBaseUrl?: string };
  ingress?: { host: string };
}): Record<string, string> {
  const base = spec.telephony.publicBaseUrl ?? (spec.ingress ? `https://${spec.ingress.host}` : undefined);
  if (!base) return {};
  const trimmed = base.replace(/\/$/, '');
  return {
    webhookUrl: `${trimmed}/twilio/voice`,
    streamUrl: `${trimmed.replace(/^http/, 'ws')}/twilio/stream/`,
  };
}

/** The stream key already generated for this VoiceAgent (its Secret is create-only: never rotated). */
function existingStreamKey(ctx: ReconcileContext, namespace: string, name: string): string | undefined {
  const secret = ctx.caches.get('v1/Secret')?.get(`${namespace}/${voiceAgentNames(name).streamKey}`) as
    | V1Secret
    | undefined;
  const value = secret?.data?.key;
  return value ? Buffer.from(value, 'base64').toString('utf8') : undefined;
}
