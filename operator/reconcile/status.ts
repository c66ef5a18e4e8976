// Writes a custom resource's status only when it changed (count-only changes paced, status-pacing.ts),
// and records an Event when Ready flips.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { EventRecorder } from '../events.ts';
import { objectPath } from '../kube/resources.ts';
import type { KubeRest } from '../kube/rest.ts';
import { type Condition, findCondition, setConditions } from './conditions.ts';
import { classifyStatusChange, type StatusPacer } from './status-pacing.ts';

export type WithStatus = KubernetesObject & {
  status?: Record<string, unknown> & { conditions?: Condition[] };
};

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

const PROGRESS_REASONS = new Set(['Creating', 'RollingOut', 'Waiting', 'MemoryStoreNotReady']);

/** Count-only changes of these status fields are paced by `pacer`. */
export interface StatusPace {
  pacer: StatusPacer;
  counts: ReadonlySet<string>;
  /**
   * Call-count fields, and how often a change of them alone is written: undefined at once, 0 never on
   * its own (it goes with the next change of another kind), N at most every N ms.
   */
  calls?: { fields: ReadonlySet<string>; refreshMs: number | undefined };
}

const NO_FIELDS: ReadonlySet<string> = new Set();

/** Milliseconds a change must wait (0: write now), or 'skip': not written on its own. */
function paceFor(
  pace: StatusPace,
  uid: string,
  previous: Record<string, unknown>,
  next: Record<string, unknown>,
): number | 'skip' {
  const change = classifyStatusChange(previous, next, pace.counts, pace.calls?.fields ?? NO_FIELDS, same);
  if (change === 'other') return 0;
  if (change === 'counts') return pace.pacer.waitFor(uid);
  const refreshMs = pace.calls?.refreshMs;
  if (refreshMs === undefined) return 0;
  return refreshMs === 0 ? 'skip' : pace.pacer.waitFor(uid, refreshMs);
}

const same = (a: unknown, b: unknown) => canonical(a) === canonical(b);

/**
 * Returns 0, or the milliseconds after which to reconcile again when a count-only change was held
 * back by `pace` (nothing written now). A call-count change that is never written on its own returns 0.
 */
export async function writeStatus(
  rest: KubeRest,
  events: EventRecorder,
  object: WithStatus,
  fields: Record<string, unknown>,
  conditions: Condition[],
  cache?: { update(object: WithStatus): void },
  pace?: StatusPace,
): Promise<number> {
  const previous = object.status ?? {};
  const nextConditions = setConditions(previous.conditions, conditions);
  const next: Record<string, unknown> = { ...fields, conditions: nextConditions };
  const comparable = Object.fromEntries(Object.keys(next).map((k) => [k, previous[k]]));
  if (same(comparable, next)) return 0;
  const uid = object.metadata?.uid;
  if (pace && uid) {
    const wait = paceFor(pace, uid, previous, next);
    if (wait === 'skip') return 0;
    if (wait > 0) return wait;
  }
  const written = await rest.mergePatch<WithStatus>(`${objectPath(object)}/status`, { status: next });
  if (pace && uid) pace.pacer.wrote(uid);
  cache?.update(written);

  const before = findCondition(previous.conditions, 'Ready');
  const after = findCondition(nextConditions, 'Ready');
  // Progress (being created, rolling out, waiting for a dependency to start) is not news; becoming
  // Ready and every failure are.
  const progress = after?.status !== 'True' && PROGRESS_REASONS.has(after?.reason ?? '');
  if (after && !progress && (before?.status !== after.status || before?.reason !== after.reason)) {
    const warning = after.status !== 'True';
    // Best effort and off the reconcile's path: the status above already says it.
    void events.record(object, warning ? 'Warning' : 'Normal', after.reason, after.message);
  }
  return 0;
}
