// Lowers or raises a VoiceAgent's gateway Deployment: up at once; down only by idle pods, and (with the
// operator link) only by the pods that agreed to be removed (retire.ts).
import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { objectPath } from '../kube/resources.ts';
import type { ReconcileContext } from '../reconcile/context.ts';
import type { FleetSummary } from '../tracker/call-tracker.ts';
import { decideReplicas, type ScaleDecision } from './busy-aware.ts';

export async function scaleGateways(
  ctx: ReconcileContext,
  namespace: string,
  name: string,
  deployment: V1Deployment | undefined,
  target: number,
  calls: FleetSummary | undefined,
  log: Logger,
): Promise<ScaleDecision & { rescaled: boolean }> {
  const current = deployment?.spec?.replicas;
  const scale = ctx.tracker ? decideReplicas(target, current, calls) : { replicas: target, waiting: false };
  if (ctx.tracker && ctx.retirer && current !== undefined && scale.replicas < current) {
    const removable = current - scale.replicas;
    // Pods not running yet carry no call: the ReplicaSet removes those first, no need to ask.
    const notRunning = ctx.tracker
      .fleet(namespace, name)
      .filter(
        (p) => !p.metadata?.deletionTimestamp && (!p.status?.podIP || p.status.phase !== 'Running'),
      ).length;
    const retired = await ctx.retirer.retire(namespace, name, Math.max(0, removable - notRunning));
    const replicas = current - Math.min(removable, Math.min(removable, notRunning) + retired);
    scale.replicas = replicas;
    scale.waiting = replicas > target;
  }
  ctx.tracker?.setWaiting(namespace, name, scale.waiting);
  const rescaled = deployment !== undefined && deployment.spec?.replicas !== scale.replicas;
  if (deployment && rescaled) {
    log.info({ from: deployment.spec?.replicas, to: scale.replicas, target }, 'scaling the gateways');
    const answer = await ctx.rest.mergePatch<KubernetesObject>(
      `${objectPath(deployment as KubernetesObject)}/scale`,
      { spec: { replicas: scale.replicas } },
    );
    // The answer carries the Deployment's new resourceVersion. The cache takes the new count at once, so
    // the next reconcile's apply, which states the count (reconcile/voiceagent.ts), cannot undo it.
    ctx.caches.get('apps/v1/Deployment')?.update({
      ...deployment,
      metadata: { ...deployment.metadata, resourceVersion: answer.metadata?.resourceVersion },
      spec: { ...deployment.spec, replicas: scale.replicas },
    } as KubernetesObject);
  }
  return { ...scale, rescaled };
}
