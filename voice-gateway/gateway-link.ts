// The gateway's end of the operator link (ADR 0021): its call presence, the notices it sends on every
// edge, and the retire endpoint (internal port) the operator calls before removing an idle pod.
import { CallPresence } from './call/presence.ts';
import { header } from './http/headers.ts';
import { jsonError } from './http/response.ts';
import type { HttpRequest, HttpResponse } from './http/types.ts';
import type { Logger } from './log.ts';
import {
  linkKey,
  openLink,
  RETIRE_CONTEXT,
  retireSchema,
  SIGNATURE_HEADER,
  verifyLink,
} from './operator-link.ts';
import { OperatorNotices } from './operator-notices.ts';

export interface GatewayLinkOptions {
  liveCalls(): number;
  draining(): boolean;
  capacity: number;
  streamKey: string | undefined;
  podName: string | undefined;
  podNamespace: string | undefined;
  /** env CALLFLEET_OPERATOR_NOTICE_URL: where edges are sent (unset: the operator's poll alone). */
  noticeUrl: string | undefined;
  log: Logger;
  /** How long a webhook-answered call counts as connecting before its stream starts. */
  connectWindowMs?: number;
}

export class GatewayLink {
  readonly presence: CallPresence;
  readonly #o: GatewayLinkOptions;
  readonly #key: Buffer | undefined;
  readonly #notices: OperatorNotices | undefined;

  constructor(o: GatewayLinkOptions) {
    this.#o = o;
    this.#key = o.streamKey ? linkKey(o.streamKey) : undefined;
    if (o.noticeUrl && o.streamKey && o.podName && o.podNamespace) {
      this.#notices = new OperatorNotices({
        url: o.noticeUrl,
        streamKey: o.streamKey,
        pod: o.podName,
        namespace: o.podNamespace,
        log: o.log,
      });
    } else if (o.noticeUrl) {
      o.log.warn(
        'CALLFLEET_OPERATOR_NOTICE_URL is set but the stream key, POD_NAME or POD_NAMESPACE is not: no notices',
      );
    }
    this.presence = new CallPresence({
      liveCalls: o.liveCalls,
      draining: o.draining,
      connectWindowMs: o.connectWindowMs ?? 15_000,
      maxConnecting: Math.max(4 * o.capacity, 16),
      onEdge: (state) => this.#notices?.send(state),
    });
  }

  /** Resolves once every notice so far was delivered or given up (tests). */
  async flushed(): Promise<void> {
    await this.#notices?.idle();
  }

  /** POST /retire: signed by the operator with this fleet's link key, naming this pod. */
  retire(req: HttpRequest): HttpResponse {
    if (!this.#key || !this.#o.podName) return jsonError(404, 'retire needs the stream key and POD_NAME');
    const body = req.body.toString('utf8');
    if (!verifyLink(this.#key, RETIRE_CONTEXT, body, header(req.headers, SIGNATURE_HEADER))) {
      this.#o.log.warn('refused a retire request with a wrong signature');
      return jsonError(403, 'invalid signature');
    }
    const opened = openLink(retireSchema, body);
    if (!opened.ok) return jsonError(400, opened.error);
    const { pod, namespace, ttlMs } = opened.value;
    if (pod !== this.#o.podName || (this.#o.podNamespace && namespace !== this.#o.podNamespace))
      return { status: 409, body: { retired: false, error: 'not this pod' } };
    const retired = this.presence.retire(ttlMs);
    const state = this.presence.state();
    this.#o.log.info(
      { retired, ...state },
      retired ? 'retired: taking no more calls' : 'retire refused: busy',
    );
    return { status: retired ? 200 : 409, body: { retired, ...state } };
  }

  close(): void {
    this.presence.close();
    this.#notices?.close();
  }
}
