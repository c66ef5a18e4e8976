// The operator's notice endpoint (ADR 0021): gateways report their edges (idle → busy, busy → idle,
// draining) here, and the pod's marks are written at once. A notice counts only when signed with the
// link key of the VoiceAgent the named pod belongs to (from the operator's own caches), so a gateway can
// never mark another VoiceAgent's pods; stale, replayed or out-of-order notices change nothing.
import { createServer, type Server } from 'node:http';
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { VOICEAGENT_LABEL } from '../../cdk8s/charts/labels.ts';
import { readBody } from '../../voice-gateway/http/body.ts';
import {
  MAX_LINK_BODY_BYTES,
  NOTICE_CONTEXT,
  NOTICE_PATH,
  noticeSchema,
  openLink,
  SIGNATURE_HEADER,
  verifyLink,
} from '../../voice-gateway/operator-link.ts';
import type { Informer } from '../runtime/informer.ts';
import type { CallTracker } from './call-tracker.ts';
import type { LinkKeys } from './link-keys.ts';

export type NoticeResult = 'applied' | 'unchanged' | 'bad_request' | 'unknown_pod' | 'forbidden';

export interface NoticeReceiverOptions {
  tracker: CallTracker;
  pods: Informer<V1Pod>;
  keys: LinkKeys;
  log: Logger;
  onNotice?(result: NoticeResult): void;
}

const STATUS: Record<NoticeResult, number> = {
  applied: 204,
  unchanged: 204,
  bad_request: 400,
  unknown_pod: 404,
  forbidden: 403,
};

export class NoticeReceiver {
  readonly #o: NoticeReceiverOptions;

  constructor(o: NoticeReceiverOptions) {
    this.#o = o;
  }

  /** Checks and applies one notice (its raw body and signature header). */
  async receive(body: string, signature: string | undefined): Promise<NoticeResult> {
    const result = await this.#receive(body, signature);
    this.#o.onNotice?.(result);
    return result;
  }

  async #receive(body: string, signature: string | undefined): Promise<NoticeResult> {
    const opened = openLink(noticeSchema, body);
    if (!opened.ok) {
      this.#o.log.debug({ error: opened.error }, 'notice refused');
      return 'bad_request';
    }
    const notice = opened.value;
    const podKey = `${notice.namespace}/${notice.pod}`;
    const pod = this.#o.pods.get(podKey);
    const voiceAgent = pod?.metadata?.labels?.[VOICEAGENT_LABEL];
    // Unknown pods and bad signatures answer alike to an unauthenticated sender; logged apart.
    const key = voiceAgent ? this.#o.keys(notice.namespace, voiceAgent) : undefined;
    if (!key || !verifyLink(key, NOTICE_CONTEXT, body, signature)) {
      this.#o.log.warn({ pod: podKey, known: Boolean(pod) }, 'notice refused: not signed for this pod');
      return pod ? 'forbidden' : 'unknown_pod';
    }
    const applied = await this.#o.tracker.applyEdge(
      podKey,
      { activeCalls: notice.activeCalls, connectingCalls: notice.connectingCalls, draining: notice.draining },
      { epoch: notice.epoch, seq: notice.seq },
    );
    return applied ? 'applied' : 'unchanged';
  }
}

/** Serves POST /notices; bodies bounded in bytes and time. Resolves with the bound port. */
export async function startNoticeServer(
  receiver: NoticeReceiver,
  host: string,
  port: number,
  log: Logger,
): Promise<{ server: Server; port: number }> {
  const server = createServer(async (req, res) => {
    if (req.method !== 'POST' || req.url !== NOTICE_PATH) return void res.writeHead(404).end();
    // Bounded in bytes and in time (the server's requestTimeout); past either, 413 / 408 and close.
    const read = await readBody(req, MAX_LINK_BODY_BYTES, server.requestTimeout);
    if (!read.ok) return void res.writeHead(read.status, { connection: 'close' }).end();
    const signature = req.headers[SIGNATURE_HEADER];
    const body = read.body.toString('utf8');
    const result = await receiver.receive(body, Array.isArray(signature) ? signature[0] : signature);
    res.writeHead(STATUS[result]).end();
  });
  server.headersTimeout = 5000;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  log.info({ noticeAddr: `${host}:${bound}` }, 'notice endpoint listening');
  return { server, port: bound };
}
