// CallCampaign: finalizer, parse, and hand the campaign to its dialer (the CampaignManager). Deletion
// cancels the recipients not yet dialed before the finalizer is removed; live calls go on.
import type { Logger } from 'pino';
import { parseCallCampaign } from '../../cdk8s/api/v1alpha1/index.ts';
import { objectPath } from '../kube/resources.ts';
import type { ReconcileOutcome } from '../runtime/work-queue.ts';
import { condition } from './conditions.ts';
import type { ReconcileContext } from './context.ts';
import { writeStatus } from './status.ts';

export const CAMPAIGN_FINALIZER = 'callfleet.io/cancel-undialed';

export async function reconcileCallCampaign(
  ctx: ReconcileContext,
  key: string,
  log: Logger,
): Promise<ReconcileOutcome> {
  const manager = ctx.campaigns;
  const cache = ctx.callCampaigns;
  if (!manager || !cache) return;
  const campaign = cache.get(key);
  if (!campaign) {
    await manager.remove(key);
    return;
  }
  const finalizers = campaign.metadata?.finalizers ?? [];
  if (campaign.metadata?.deletionTimestamp) {
    if (!finalizers.includes(CAMPAIGN_FINALIZER)) {
      await manager.remove(key);
      return;
    }
    try {
      const canceled = await manager.cancel(campaign);
      log.info({ canceled }, 'campaign deleted: undialed recipients canceled');
    } catch (error) {
      // The database is gone or unreachable: nothing can be dialed from it either; do not block deletion forever.
      log.warn({ err: String(error) }, 'campaign deleted: could not cancel recipients in the MemoryStore');
    }
    await ctx.rest.jsonPatch(objectPath(campaign), [
      { op: 'test', path: '/metadata/finalizers', value: finalizers },
      {
        op: 'replace',
        path: '/metadata/finalizers',
        value: finalizers.filter((f) => f !== CAMPAIGN_FINALIZER),
      },
    ]);
    return;
  }
  if (!finalizers.includes(CAMPAIGN_FINALIZER)) {
    await ctx.rest.mergePatch(objectPath(campaign), {
      metadata: { finalizers: [...finalizers, CAMPAIGN_FINALIZER] },
    });
  }
  const parsed = parseCallCampaign(campaign);
  if (!parsed.ok) {
    await manager.remove(key);
    const message = parsed.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
    const generation = campaign.metadata?.generation;
    await writeStatus(
      ctx.rest,
      ctx.events,
      campaign,
      { observedGeneration: generation, phase: 'Failed' },
      [
        condition('Ready', false, 'InvalidSpec', message, generation),
        condition('Progressing', false, 'InvalidSpec', message, generation),
        condition('Degraded', true, 'InvalidSpec', message, generation),
      ],
      cache,
    );
    return;
  }
  await manager.ensure(campaign);
}
