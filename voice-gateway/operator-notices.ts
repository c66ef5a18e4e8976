// Sends this pod's edges (busy, idle, draining) to the operator at once (ADR 0021). One notice in
// flight at a time and the latest state wins, so a burst of calls costs one or two requests; a notice
// that cannot be delivered is retried a few times, then left to the operator's slow /status poll.

import type { PresenceState } from './call/presence.ts';
import type { Logger } from './log.ts';
import { linkKey, NOTICE_CONTEXT, type Notice, SIGNATURE_HEADER, signLink } from './operator-link.ts';

export interface OperatorNoticeOptions {
  /** The operator's notice endpoint, e.g. http://callfleet-operator-notices.callfleet-system.svc:8082/notices */
  url: string;
  streamKey: string;
  pod: string;
  namespace: string;
  log: Logger;
  timeoutMs?: number;
  /** Delivery attempts per state before leaving it to the poll. */
  attempts?: number;
  onResult?(result: 'sent' | 'failed'): void;
}

export class OperatorNotices {
  readonly #o: Required<Omit<OperatorNoticeOptions, 'onResult'>> & OperatorNoticeOptions;
  readonly #key: Buffer;
  readonly #epoch = Date.now();
  #seq = 0;
  #pending: PresenceState | undefined;
  #sending = false;
  #closed = false;

  constructor(o: OperatorNoticeOptions) {
    this.#o = { timeoutMs: 1000, attempts: 3, ...o };
    this.#key = linkKey(o.streamKey);
  }

  /** Reports a new state; returns at once. */
  send(state: PresenceState): void {
    this.#pending = state;
    if (!this.#sending) void this.#drain();
  }

  /** Resolves when nothing is waiting to be sent (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#sending) await new Promise((r) => setTimeout(r, 5));
  }

  close(): void {
    this.#closed = true;
    this.#pending = undefined;
  }

  async #drain(): Promise<void> {
    this.#sending = true;
    try {
      while (this.#pending && !this.#closed) {
        const state = this.#pending;
        this.#pending = undefined;
        await this.#deliver(state);
      }
    } finally {
      this.#sending = false;
    }
  }

  async #deliver(state: PresenceState): Promise<void> {
    for (let attempt = 1; attempt <= this.#o.attempts; attempt++) {
      // A newer state supersedes this one: send that instead.
      if (this.#pending || this.#closed) return;
      const notice: Notice = {
        namespace: this.#o.namespace,
        pod: this.#o.pod,
        ...state,
        epoch: this.#epoch,
        seq: ++this.#seq,
        sentAt: Date.now(),
      };
      const body = JSON.stringify(notice);
      try {
        const res = await fetch(this.#o.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            [SIGNATURE_HEADER]: signLink(this.#key, NOTICE_CONTEXT, body),
          },
          body,
          signal: AbortSignal.timeout(this.#o.timeoutMs),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          this.#o.onResult?.('sent');
          return;
        }
        // 4xx: the operator refuses this notice (not its pod, bad signature): retrying will not help.
        if (res.status >= 400 && res.status < 500 && res.status !== 429) {
          this.#o.log.warn({ status: res.status }, 'operator refused the busy notice');
          this.#o.onResult?.('failed');
          return;
        }
      } catch {
        // unreachable or timed out: retry below
      }
      await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
    }
    this.#o.onResult?.('failed');
    this.#o.log.debug('busy notice not delivered; the operator poll will catch up');
  }
}
