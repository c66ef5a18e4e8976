import WebSocket from 'ws';

/**
 * RFC 6455 masks client frames so that a transparent proxy on the path cannot be fooled into
 * caching attacker-chosen bytes. No intermediary can read frames inside TLS (wss) or on the
 * loopback interface: there a zero key (still a masked frame on the wire, which every server must
 * accept) lets ws send the payload without copying and XOR-ing it. Plain ws:// to another host
 * keeps random keys. ADR 0020.
 */
export function maskingMoot(url: string): boolean {
  const u = new URL(url);
  if (u.protocol === 'wss:') return true;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

function zeroMask(mask: Uint8Array): void {
  mask[0] = mask[1] = mask[2] = mask[3] = 0;
}

const zeroMasked = new WeakSet<WebSocket>();

/** True for a client socket whose frames carry a zero mask key (see `maskingMoot`). */
export function isZeroMasked(ws: WebSocket): boolean {
  return zeroMasked.has(ws);
}

/**
 * Opens a client WebSocket; rejects on error, unexpected HTTP response or timeout. `onOpen` runs as
 * the socket opens, before any frame is delivered: the place to attach message listeners. A frame the
 * server sent right after the upgrade (OpenAI's `session.created`; any frame that shared a read with
 * the 101 answer) is emitted on the next tick, before a listener added after the promise settles.
 */
export function connectWebSocket(
  url: string,
  headers: Record<string, string>,
  timeoutMs: number,
  maxPayload: number,
  onOpen?: (ws: WebSocket) => void,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const moot = maskingMoot(url);
    const ws = new WebSocket(url, {
      headers,
      handshakeTimeout: timeoutMs,
      maxPayload,
      perMessageDeflate: false,
      ...(moot ? { generateMask: zeroMask } : {}),
    });
    if (moot) zeroMasked.add(ws);
    const fail = (err: Error) => {
      ws.removeAllListeners('open');
      ws.on('error', () => {});
      ws.terminate();
      reject(err);
    };
    ws.once('open', () => {
      ws.removeListener('error', fail);
      ws.removeListener('unexpected-response', onUnexpected);
      onOpen?.(ws);
      resolve(ws);
    });
    const onUnexpected = (_req: unknown, res: { statusCode?: number }) =>
      fail(new Error(`backend answered HTTP ${res.statusCode ?? '?'} to the WebSocket upgrade`));
    ws.once('error', fail);
    ws.once('unexpected-response', onUnexpected);
  });
}

/** ws base URL from an http(s)/ws(s) base, without a trailing slash. */
export function toWsBase(base: string): string {
  return base.replace(/^http/, 'ws').replace(/\/+$/, '');
}
