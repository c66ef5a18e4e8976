import WebSocket from 'ws';

/** Opens a client WebSocket; rejects on error, unexpected HTTP response or timeout. */
export function connectWebSocket(
  url: string,
  headers: Record<string, string>,
  timeoutMs: number,
  maxPayload: number,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      headers,
      handshakeTimeout: timeoutMs,
      maxPayload,
      perMessageDeflate: false,
    });
    const fail = (err: Error) => {
      ws.removeAllListeners('open');
      ws.on('error', () => {});
      ws.terminate();
      reject(err);
    };
    ws.once('open', () => {
      ws.removeListener('error', fail);
      ws.removeListener('unexpected-response', onUnexpected);
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
