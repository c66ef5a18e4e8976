// Writes each pod's marks one write at a time (issue 24): while a pod's write is in flight, newer marks
// for it wait, and only the latest is written when it returns. A gateway that repeats a notice because
// the answer was slow, or a poll answer that crosses a notice, then costs no extra API write: the slower
// the API server, the fewer writes it is handed, not the more. Without this, bench:operator-scale at
// 10,000 pods fell into a retry storm (gateways retry a notice after 1 s, each retry another PATCH)
// and busy marks stayed 17 s late for the rest of the run after one slow moment.
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { desiredMarks } from '../../cdk8s/charts/pod-marks.ts';
import { objectKey, objectPath } from '../kube/resources.ts';
import type { KubeRest } from '../kube/rest.ts';
import type { Informer } from '../runtime/informer.ts';
import { marksPatch } from './pod-marks.ts';

/** What decided a mark write: a gateway's notice (or retire answer), or the tracker's poll. */
export type MarkTrigger = 'notice' | 'poll';

export interface MarkRequest {
  /** Calls on the pod; undefined when its /status did not answer (only the serving label is kept). */
  activeCalls: number | undefined;
  draining: boolean;
  trigger: MarkTrigger;
}

export interface MarkWriterOptions {
  rest: KubeRest;
  pods: Informer<V1Pod>;
  nodes?: Informer<V1Node>;
  log: Logger;
  /**
   * A marks write is sent (the pod-marks metric): counted with the request, as the API-write metric
   * is, so writes beyond the marks stay exact while marks are still in flight.
   */
  onMark?(pod: V1Pod): void;
  /** A marks write was answered (or failed) `seconds` after the first request it serves was made. */
  onMarkDone?(seconds: number, trigger: MarkTrigger): void;
}

interface Pending {
  request: MarkRequest;
  requestedAt: number;
  /** Callers waiting for this request (or a later one) to be written. */
  waiters: (() => void)[];
}

export class MarkWriter {
  readonly #o: MarkWriterOptions;
  readonly #pending = new Map<string, Pending>();
  /** Pods with a write in flight. */
  readonly #writing = new Set<string>();

  constructor(o: MarkWriterOptions) {
    this.#o = o;
  }

  /**
   * Brings the pod's marks to what `request` says. Resolves once they, or newer ones asked for since,
   * are written (or the write failed and was logged); never rejects.
   */
  mark(podKey: string, request: MarkRequest): Promise<void> {
    return new Promise((resolve) => {
      const pending = this.#pending.get(podKey);
      if (pending) {
        pending.request = request;
        pending.waiters.push(resolve);
      } else this.#pending.set(podKey, { request, requestedAt: performance.now(), waiters: [resolve] });
      if (!this.#writing.has(podKey)) void this.#drain(podKey);
    });
  }

  /** Writes the pod's latest pending marks until none is left; the set is kept in step synchronously. */
  async #drain(podKey: string): Promise<void> {
    this.#writing.add(podKey);
    try {
      for (let next = this.#pending.get(podKey); next; next = this.#pending.get(podKey)) {
        this.#pending.delete(podKey);
        await this.#write(podKey, next);
        for (const resolve of next.waiters) resolve();
      }
    } finally {
      this.#writing.delete(podKey);
    }
  }

  async #write(podKey: string, { request, requestedAt }: Pending): Promise<void> {
    // The cached pod at the time of writing: the previous write's answer is already in it.
    const pod = this.#o.pods.get(podKey);
    if (!pod || pod.metadata?.deletionTimestamp) return;
    const node = pod.spec?.nodeName ? this.#o.nodes?.get(pod.spec.nodeName) : undefined;
    const cordoned = node?.spec?.unschedulable === true;
    const patch = marksPatch(pod, desiredMarks(request.activeCalls, cordoned, request.draining));
    if (!patch) return;
    this.#o.log.debug(
      { pod: podKey, activeCalls: request.activeCalls, labels: patch.metadata.labels },
      'marking pod',
    );
    this.#o.onMark?.(pod);
    try {
      const marked = await this.#o.rest.mergePatch<V1Pod>(
        objectPath({ apiVersion: 'v1', kind: 'Pod', metadata: pod.metadata }),
        patch,
      );
      this.#o.pods.update(marked);
    } catch (error) {
      this.#o.log.warn({ pod: objectKey(pod), err: String(error) }, 'could not mark pod');
    } finally {
      this.#o.onMarkDone?.((performance.now() - requestedAt) / 1000, request.trigger);
    }
  }
}
