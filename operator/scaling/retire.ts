// Closing the race between a first call and a scale-down (ADR 0021): the operator chooses which idle
// pods to remove and asks each one (POST /retire on its internal port, signed with the fleet's link
// key). A gateway agrees only while it carries no call and none is connecting, and from then on takes
// none (readiness 503, the fallback); a pod whose first call came first refuses and stays. Only the
// pods that agreed are counted, and their deletion cost (-1) makes the ReplicaSet remove exactly them.
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { VOICEAGENT_LABEL } from '../../cdk8s/charts/labels.ts';
import { asRecord } from '../../voice-gateway/lib/json-shape.ts';
import {
  RETIRE_CONTEXT,
  RETIRE_PATH,
  SIGNATURE_HEADER,
  signLink,
} from '../../voice-gateway/operator-link.ts';
import { objectKey } from '../kube/resources.ts';
import { type CallTracker, callsOn, internalPortOf } from '../tracker/call-tracker.ts';
import type { LinkKeys } from '../tracker/link-keys.ts';
import { askPod } from '../tracker/pod-http.ts';

export interface RetirerOptions {
  tracker: CallTracker;
  keys: LinkKeys;
  log: Logger;
  timeoutMs?: number;
  /** A retired pod that is not removed within this long takes calls again. */
  ttlMs?: number;
  /** Test hook: the idle pods just chosen for removal, before any of them is asked. */
  onVictimsChosen?(pods: V1Pod[]): Promise<void> | void;
}

type Answer = 'retired' | 'busy' | 'unreachable' | 'legacy';

export class Retirer {
  readonly #o: RetirerOptions;

  constructor(o: RetirerOptions) {
    this.#o = o;
  }

  /** Running, not terminating, known idle pods of a fleet, the ones the ReplicaSet would remove first first. */
  idlePods(namespace: string, voiceAgent: string): V1Pod[] {
    const ready = (p: V1Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    return this.#o.tracker
      .fleet(namespace, voiceAgent)
      .filter((p) => {
        if (p.metadata?.deletionTimestamp || !p.status?.podIP || p.status.phase !== 'Running') return false;
        const state = this.#o.tracker.state(objectKey(p));
        return state !== undefined && !state.draining && callsOn(state) === 0;
      })
      .sort(
        (a, b) =>
          Number(ready(a)) - Number(ready(b)) ||
          String(b.metadata?.creationTimestamp ?? '').localeCompare(
            String(a.metadata?.creationTimestamp ?? ''),
          ),
      );
  }

  /** Asks up to `count` idle pods to retire; resolves with how many agreed. */
  async retire(namespace: string, voiceAgent: string, count: number): Promise<number> {
    if (count <= 0) return 0;
    const victims = this.idlePods(namespace, voiceAgent).slice(0, count);
    await this.#o.onVictimsChosen?.(victims);
    const answers = await Promise.all(victims.map((pod) => this.#ask(pod)));
    const agreed = answers.filter((a) => a === 'retired' || a === 'legacy').length;
    this.#o.log.info(
      { chosen: victims.map((p) => p.metadata?.name), answers },
      agreed === victims.length ? 'idle pods retired for scale-down' : 'some idle pods refused to retire',
    );
    return agreed;
  }

  async #ask(pod: V1Pod): Promise<Answer> {
    const namespace = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    const key = this.#o.keys(namespace, pod.metadata?.labels?.[VOICEAGENT_LABEL] ?? '');
    if (!key) return 'unreachable';
    const body = JSON.stringify({ namespace, pod: name, ttlMs: this.#o.ttlMs ?? 60_000, sentAt: Date.now() });
    try {
      const res = await askPod(`http://${pod.status?.podIP}:${internalPortOf(pod)}${RETIRE_PATH}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signLink(key, RETIRE_CONTEXT, body),
        },
        body,
        timeoutMs: this.#o.timeoutMs ?? 1500,
      });
      const answer = asRecord(res.body) ?? {};
      // A gateway from before the operator link: it is idle by the last poll, as before.
      if (res.status === 404) return 'legacy';
      const edge = {
        activeCalls: Number(answer.activeCalls ?? 0),
        connectingCalls: Number(answer.connectingCalls ?? 0),
        draining: answer.draining === true,
      };
      if (res.status === 200) {
        await this.#o.tracker.applyEdge(objectKey(pod), { ...edge, draining: true });
        return 'retired';
      }
      if (res.status === 409) {
        await this.#o.tracker.applyEdge(objectKey(pod), edge);
        return 'busy';
      }
      return 'unreachable';
    } catch {
      return 'unreachable';
    }
  }
}
