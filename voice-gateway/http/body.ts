// Reads a request body up to a byte limit and a deadline. Past either, reading stops at once and the
// caller answers 413 / 408 with `Connection: close` (see closeAfter): an endless chunked body costs
// at most the limit, never the whole stream.
import type { IncomingMessage } from 'node:http';

export type BodyResult =
  | { ok: true; body: Buffer }
  | { ok: false; status: 400 | 408 | 413; reason: 'too_large' | 'timeout' | 'aborted'; message: string };

export function readBody(req: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<BodyResult> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    return Promise.resolve({
      ok: false,
      status: 413,
      reason: 'too_large',
      message: `body larger than ${maxBytes} bytes`,
    });
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (r: BodyResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onError);
      if (!r.ok) req.pause();
      resolve(r);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) {
        finish({
          ok: false,
          status: 413,
          reason: 'too_large',
          message: `body larger than ${maxBytes} bytes`,
        });
      } else chunks.push(c);
    };
    const onEnd = () => finish({ ok: true, body: Buffer.concat(chunks, size) });
    const onError = () => finish({ ok: false, status: 400, reason: 'aborted', message: 'request aborted' });
    const timer = setTimeout(
      () =>
        finish({
          ok: false,
          status: 408,
          reason: 'timeout',
          message: `body not received within ${timeoutMs} ms`,
        }),
      timeoutMs,
    );
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onError);
  });
}
