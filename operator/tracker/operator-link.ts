// The operator's end of the operator link (ADR 0021), wired in one place: the notice endpoint (the
// leader's), and the retirer the scale-down asks before removing idle pods.
import type { Server } from 'node:http';
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Informer } from '../runtime/informer.ts';
import { Retirer } from '../scaling/retire.ts';
import type { CallTracker } from './call-tracker.ts';
import { linkKeysFrom } from './link-keys.ts';
import { NoticeReceiver, type NoticeResult, startNoticeServer } from './notices.ts';

export interface OperatorLinkOptions {
  tracker: CallTracker;
  pods: Informer<V1Pod>;
  /** The operator-generated Secrets (the stream keys the link keys derive from). */
  secrets: { get(key: string): KubernetesObject | undefined } | undefined;
  log: Logger;
  /** host:port of the notice endpoint; unset: no endpoint (the poll alone). */
  noticeAddr?: string;
  onNotice?(result: NoticeResult): void;
  onVictimsChosen?(pods: V1Pod[]): Promise<void> | void;
}

export interface OperatorLink {
  retirer: Retirer;
  receiver: NoticeReceiver;
  /** The bound notice port (when listening). */
  port?: number;
  close(): Promise<void>;
}

export async function startOperatorLink(o: OperatorLinkOptions): Promise<OperatorLink> {
  const keys = linkKeysFrom(o.secrets);
  const retirer = new Retirer({ tracker: o.tracker, keys, log: o.log, onVictimsChosen: o.onVictimsChosen });
  const receiver = new NoticeReceiver({
    tracker: o.tracker,
    pods: o.pods,
    keys,
    log: o.log,
    onNotice: o.onNotice,
  });
  let server: Server | undefined;
  let port: number | undefined;
  if (o.noticeAddr) {
    const [host = '0.0.0.0', p = '8082'] = o.noticeAddr.split(/:(?=\d+$)/);
    ({ server, port } = await startNoticeServer(receiver, host, Number(p), o.log));
  }
  return {
    retirer,
    receiver,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        if (!server) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
