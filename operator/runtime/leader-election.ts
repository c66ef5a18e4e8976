// Leader election on a coordination.k8s.io/v1 Lease. Times are V1MicroTime strings (RFC 3339 with
// microseconds): the API server rejects plain seconds. A leader that cannot renew before the renew
// deadline steps down; a graceful stop releases the lease so a standby takes over at once.
import type { V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { collectionPath, resourceFor } from '../kube/resources.ts';
import { KubeError, type KubeRest } from '../kube/rest.ts';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading(): void;
  onStoppedLeading(): void;
}

export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  readonly #rest: KubeRest;
  readonly #options: Required<LeaderElectionOptions>;
  readonly #log: Logger;
  readonly #path: string;
  #leading = false;
  #lastRenew = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(rest: KubeRest, options: LeaderElectionOptions, log: Logger) {
    this.#rest = rest;
    this.#options = { leaseDurationSeconds: 10, renewDeadlineMs: 7000, retryPeriodMs: 2000, ...options };
    this.#log = log.child({ lease: `${options.namespace}/${options.name}` });
    this.#path = `${collectionPath(resourceFor('coordination.k8s.io/v1', 'Lease'), options.namespace)}/${options.name}`;
  }

  get leading(): boolean {
    return this.#leading;
  }

  start(): void {
    const tick = async () => {
      if (this.#stopped) return;
      try {
        await this.#tryAcquireOrRenew();
      } catch (error) {
        this.#log.warn({ err: String(error) }, 'lease update failed');
      }
      if (this.#leading && Date.now() - this.#lastRenew > this.#options.renewDeadlineMs) {
        this.#log.error('could not renew the lease in time; stepping down');
        this.#setLeading(false);
      }
      if (!this.#stopped) this.#timer = setTimeout(tick, this.#options.retryPeriodMs);
    };
    void tick();
  }

  /** Stops competing; a leader releases the lease so a standby takes over without waiting for expiry. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (!this.#leading) return;
    this.#setLeading(false);
    try {
      await this.#rest.mergePatch(this.#path, {
        spec: { holderIdentity: null, renewTime: microTime(new Date(0)), leaseDurationSeconds: 1 },
      });
    } catch (error) {
      this.#log.warn({ err: String(error) }, 'could not release the lease');
    }
  }

  async #tryAcquireOrRenew(): Promise<void> {
    const now = new Date();
    const { identity, leaseDurationSeconds, namespace, name } = this.#options;
    const lease = await this.#rest.getOrNull<V1Lease>(this.#path);
    if (!lease) {
      await this.#rest.create(collectionPath(resourceFor('coordination.k8s.io/v1', 'Lease'), namespace), {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      });
      this.#renewed();
      return;
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity;
    const renewedAt = spec.renewTime ? new Date(spec.renewTime as unknown as string).getTime() : 0;
    const expired = renewedAt + (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000 < now.getTime();
    if (holder && holder !== identity && !expired) {
      if (this.#leading) this.#setLeading(false);
      return;
    }
    const takingOver = holder !== identity;
    try {
      // update (not patch): the resourceVersion makes two contenders' writes conflict, so only one wins.
      await this.#rest.update(this.#path, {
        ...lease,
        spec: {
          ...spec,
          holderIdentity: identity,
          leaseDurationSeconds,
          renewTime: microTime(now),
          acquireTime: takingOver ? microTime(now) : spec.acquireTime,
          leaseTransitions: (spec.leaseTransitions ?? 0) + (takingOver ? 1 : 0),
        },
      });
      this.#renewed();
    } catch (error) {
      if (error instanceof KubeError && error.status === 409) return;
      throw error;
    }
  }

  #renewed(): void {
    this.#lastRenew = Date.now();
    this.#setLeading(true);
  }

  #setLeading(leading: boolean): void {
    if (leading === this.#leading) return;
    this.#leading = leading;
    this.#log.info({ leading }, leading ? 'became the leader' : 'no longer the leader');
    if (leading) this.#options.onStartedLeading();
    else this.#options.onStoppedLeading();
  }
}
