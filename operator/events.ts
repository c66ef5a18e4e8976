// Kubernetes Events (events.k8s.io/v1) for failures and notable transitions. Best effort: an Event that
// cannot be written is logged, never a reason to fail a reconcile.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { collectionPath, resourceFor } from './kube/resources.ts';
import type { KubeRest } from './kube/rest.ts';
import { microTime } from './runtime/leader-election.ts';

export type EventType = 'Normal' | 'Warning';

export class EventRecorder {
  readonly #rest: KubeRest;
  readonly #instance: string;
  readonly #log: Logger;

  constructor(rest: KubeRest, instance: string, log: Logger) {
    this.#rest = rest;
    this.#instance = instance;
    this.#log = log;
  }

  async record(
    regarding: KubernetesObject,
    type: EventType,
    reason: string,
    note: string,
    action = 'Reconcile',
  ): Promise<void> {
    const namespace = regarding.metadata?.namespace ?? 'default';
    try {
      await this.#rest.create(collectionPath(resourceFor('events.k8s.io/v1', 'Event'), namespace), {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { generateName: `${regarding.metadata?.name}-`, namespace },
        eventTime: microTime(new Date()),
        reportingController: 'callfleet.io/operator',
        reportingInstance: this.#instance.slice(0, 128),
        action,
        reason,
        type,
        note: note.slice(0, 1024),
        regarding: {
          apiVersion: regarding.apiVersion,
          kind: regarding.kind,
          name: regarding.metadata?.name,
          namespace,
          uid: regarding.metadata?.uid,
        },
      });
    } catch (error) {
      this.#log.warn({ err: String(error), reason }, 'could not record an Event');
    }
  }
}
