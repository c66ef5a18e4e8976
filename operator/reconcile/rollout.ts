// Automatic rollback: remember the last revision that rolled out healthy; when a new rollout stalls or
// its pods fail too many calls, put the last good pod template back and do not retry that generation
// until the spec changes again.
import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { VoiceAgentSpec } from '../../cdk8s/api/v1alpha1/index.ts';
import { rolloutFailure } from '../rollout/judge.ts';
import {
  replicaSetOf,
  replicaSetWithTemplate,
  revisionOf,
  TEMPLATE_HASH_LABEL,
  templateOf,
} from '../rollout/revisions.ts';
import { FIELD_MANAGER, liveChild } from './children.ts';
import { type Condition, condition, findCondition } from './conditions.ts';
import type { ReconcileContext } from './context.ts';
import type { WithStatus } from './status.ts';

interface RolloutStatus {
  lastGoodGeneration?: number;
  lastGoodTemplate?: string;
  failedGeneration?: number;
}

function rolloutStatus(va: WithStatus): RolloutStatus {
  return (va.status ?? {}) as RolloutStatus;
}

/** While a generation is rolled back, render it with the pod template the rollback restored. */
export function holdRolledBackTemplate(
  ctx: ReconcileContext,
  va: WithStatus,
  objects: KubernetesObject[],
): KubernetesObject[] {
  if (rolloutStatus(va).failedGeneration !== va.metadata?.generation) return objects;
  return objects.map((object) => {
    if (object.kind !== 'Deployment') return object;
    const live = liveChild(ctx.caches, object) as V1Deployment | undefined;
    const rendered = object as V1Deployment;
    return live?.spec?.template
      ? { ...rendered, spec: { ...rendered.spec, template: live.spec.template } }
      : object;
  });
}

export interface RolloutOutcome {
  status: RolloutStatus;
  conditions: Condition[];
  /** A rollout is under way: judge it again soon. */
  watching: boolean;
}

export async function guardRollout(
  ctx: ReconcileContext,
  va: WithStatus,
  spec: VoiceAgentSpec,
  rendered: V1Deployment | undefined,
  deployment: V1Deployment | undefined,
  rolledOut: boolean,
  log: Logger,
): Promise<RolloutOutcome> {
  const generation = va.metadata?.generation;
  const status = rolloutStatus(va);
  const kept = {
    lastGoodGeneration: status.lastGoodGeneration,
    lastGoodTemplate: status.lastGoodTemplate,
    failedGeneration: status.failedGeneration,
  };

  if (status.failedGeneration !== undefined && status.failedGeneration === generation) {
    const previous = findCondition(va.status?.conditions, 'Degraded');
    const message = previous?.reason === 'RolloutFailed' ? previous.message : 'rolled back';
    return {
      status: kept,
      conditions: [condition('Degraded', true, 'RolloutFailed', message, generation)],
      watching: false,
    };
  }
  const namespace = va.metadata?.namespace ?? '';
  const name = va.metadata?.name ?? '';
  // The series exists at 0 before the first rollback, so increase() sees that rollback.
  ctx.metrics.rollbacks.inc({ resource_namespace: namespace, resource_name: name }, 0);
  if (!deployment) return { status: kept, conditions: [], watching: false };
  const revision = revisionOf(deployment);
  const replicaSets = ctx.replicaSets.list((rs) => rs.metadata?.namespace === namespace);
  const hash = replicaSetOf(replicaSets, deployment, revision)?.metadata?.labels?.[TEMPLATE_HASH_LABEL];
  // Terminating pods do not count in a Deployment's status: the rollout is only over when every old pod
  // has finished draining and is gone, and until then the new pods' calls are still being judged.
  const settled =
    rolledOut && (!ctx.tracker || (hash !== undefined && ctx.tracker.onlyTemplate(namespace, name, hash)));
  const judging =
    spec.rollout.autoRollback &&
    status.lastGoodTemplate &&
    hash !== undefined &&
    hash !== status.lastGoodTemplate;
  let cause: string | undefined;
  if (judging) {
    const calls =
      hash && ctx.tracker ? ctx.tracker.callsOnTemplate(namespace, name, hash) : { total: 0, failed: 0 };
    cause = rolloutFailure(deployment, calls, spec.rollout);
  }
  if (!cause) {
    if (settled) {
      return {
        status: { ...kept, lastGoodGeneration: generation, lastGoodTemplate: hash },
        conditions: [],
        watching: false,
      };
    }
    return { status: kept, conditions: [], watching: true };
  }

  const good = replicaSetWithTemplate(replicaSets, deployment, status.lastGoodTemplate);
  const template = good ? templateOf(good) : undefined;
  if (!template || !rendered) {
    const message = `${cause}; cannot roll back: the ReplicaSet of template ${status.lastGoodTemplate} is gone`;
    return {
      status: kept,
      conditions: [condition('Degraded', true, 'RolloutFailed', message, generation)],
      watching: true,
    };
  }
  const restored = await ctx.rest.apply({ ...rendered, spec: { ...rendered.spec, template } }, FIELD_MANAGER);
  ctx.caches.get('apps/v1/Deployment')?.update(restored);
  const message = `${cause}; rolled back to the pod template of generation ${status.lastGoodGeneration}`;
  log.warn({ cause, template: status.lastGoodTemplate }, 'rollout failed; rolled back');
  ctx.metrics.rollbacks.inc({ resource_namespace: namespace, resource_name: name });
  await ctx.events.record(va, 'Warning', 'RolloutFailed', message, 'Rollback');
  return {
    status: { ...kept, failedGeneration: generation },
    conditions: [condition('Degraded', true, 'RolloutFailed', message, generation)],
    watching: false,
  };
}
