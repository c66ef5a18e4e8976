// The leader's Pod carries `callfleet.io/operator-leader: "true"` so a Service can route to it alone (the
// chart's `<fullname>-notices`: gateways' busy/idle notices reach only the replica that can act on them;
// ADR 0027). The Pod is known from the downward API (POD_NAME, POD_NAMESPACE); outside a pod there is
// nothing to label and this does nothing. Every write is best effort: a label that is wrong for a moment
// costs failed notices, which the gateways retry and the call poll repairs.
import type { V1Pod, V1PodList } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { collectionPath, resourceFor } from '../kube/resources.ts';
import { KubeError, type KubeRest } from '../kube/rest.ts';

export const LEADER_LABEL = 'callfleet.io/operator-leader';
/** The labels that tell this release's operator pods from another release's in the same namespace. */
const RELEASE_LABELS = ['app.kubernetes.io/name', 'app.kubernetes.io/instance'] as const;
const FIELD_MANAGER = 'callfleet-operator-leader';

export interface LeaderLabelOptions {
  rest: KubeRest;
  namespace: string;
  pod: string;
  log: Logger;
  /** First retry delay of a failed label write while leading (doubles up to maxRetryMs). */
  retryMs?: number;
  maxRetryMs?: number;
}

export class LeaderLabel {
  readonly #rest: KubeRest;
  readonly #pods: string;
  readonly #pod: string;
  readonly #log: Logger;
  readonly #retryMs: number;
  readonly #maxRetryMs: number;
  #leading = false;
  /** Whether this pod carries the label as far as this process knows (undefined: not known yet). */
  #labelled: boolean | undefined;
  #retry: NodeJS.Timeout | undefined;

  constructor(options: LeaderLabelOptions) {
    this.#rest = options.rest;
    this.#pods = collectionPath(resourceFor('v1', 'Pod'), options.namespace);
    this.#pod = options.pod;
    this.#log = options.log.child({ pod: `${options.namespace}/${options.pod}`, label: LEADER_LABEL });
    this.#retryMs = options.retryMs ?? 1000;
    this.#maxRetryMs = options.maxRetryMs ?? 30_000;
  }

  /**
   * Takes the label from every other operator pod of this release that still carries it (a leader that
   * crashed or was cut off could not remove its own), before this replica starts serving.
   */
  async takeOver(): Promise<void> {
    this.#leading = true;
    try {
      const own = await this.#rest.get<V1Pod>(`${this.#pods}/${this.#pod}`);
      const selector = [
        `${LEADER_LABEL}=true`,
        ...RELEASE_LABELS.flatMap((key) => {
          const value = own.metadata?.labels?.[key];
          return value === undefined ? [] : [`${key}=${value}`];
        }),
      ].join(',');
      const list = await this.#rest.get<V1PodList>(this.#pods, { labelSelector: selector });
      for (const pod of list.items) {
        const name = pod.metadata?.name;
        if (!name || name === this.#pod) continue;
        await this.#write(name, null);
        this.#log.info({ from: name }, 'removed the leader label from a former leader');
      }
    } catch (error) {
      this.#log.warn({ err: String(error) }, 'could not clear the leader label from other operator pods');
    }
  }

  /**
   * Labels this pod (once the replica serves); retries in the background while it leads (from takeOver()
   * until unmark(): a shutdown that unmarked during the controller's start is not undone here).
   */
  async mark(): Promise<void> {
    clearTimeout(this.#retry);
    let delay = this.#retryMs;
    const attempt = async (): Promise<void> => {
      if (!this.#leading) return;
      try {
        await this.#write(this.#pod, 'true');
        this.#labelled = true;
        this.#log.info('labelled the leader pod');
      } catch (error) {
        this.#log.warn({ err: String(error), retryInMs: delay }, 'could not label the leader pod');
        if (!this.#leading) return;
        this.#retry = setTimeout(() => void attempt(), delay);
        delay = Math.min(delay * 2, this.#maxRetryMs);
      }
    };
    await attempt();
  }

  /**
   * Removes the label from this pod: when it stops leading or shuts down, and when the process starts (a
   * container restarted after a crash must not keep its predecessor's label until a new leader clears it).
   */
  async unmark(): Promise<void> {
    this.#leading = false;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    if (this.#labelled === false) return;
    try {
      await this.#write(this.#pod, null);
      this.#labelled = false;
    } catch (error) {
      this.#log.warn({ err: String(error) }, 'could not remove the leader label');
    }
  }

  async #write(pod: string, value: 'true' | null): Promise<void> {
    try {
      await this.#rest.mergePatch(
        `${this.#pods}/${pod}`,
        { metadata: { labels: { [LEADER_LABEL]: value } } },
        FIELD_MANAGER,
      );
    } catch (error) {
      // A pod that is gone carries no label.
      if (error instanceof KubeError && error.status === 404 && value === null) return;
      throw error;
    }
  }
}

/** The leader label of the pod this process runs in (POD_NAME, POD_NAMESPACE), or undefined outside a pod. */
export function podLeaderLabel(
  rest: KubeRest,
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
): LeaderLabel | undefined {
  const { POD_NAME: pod, POD_NAMESPACE: namespace } = env;
  if (!pod) return undefined;
  if (!namespace) {
    log.warn('POD_NAME is set but POD_NAMESPACE is not: the leader pod is not labelled');
    return undefined;
  }
  return new LeaderLabel({ rest, namespace, pod, log });
}
