// The simulated Twilio retries a webhook once when the connection fails before any response, and
// never after a response or a timeout (Twilio's documented defaults).
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { postWebhook } from './webhook-post.ts';

async function server(handle: (n: number, req: IncomingMessage, res: ServerResponse) => void) {
  let n = 0;
  const s = createServer((req, res) => handle(++n, req, res));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/twilio/voice`,
    requests: () => n,
    close: () => {
      s.closeAllConnections();
      return new Promise((r) => s.close(r));
    },
  };
}

const post = (url: string, timeoutMs?: number) =>
  postWebhook(url, { 'content-type': 'application/x-www-form-urlencoded' }, 'CallSid=CA1', timeoutMs);

describe('postWebhook (the simulated Twilio)', () => {
  it('a connection closed before any response is retried once, and the retry answers', async () => {
    const s = await server((n, req, res) => (n === 1 ? req.socket.destroy() : res.writeHead(200).end('ok')));
    try {
      const res = await post(s.url);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'ok');
      assert.equal(s.requests(), 2);
    } finally {
      await s.close();
    }
  });

  it('only once: a second failure is the caller’s', async () => {
    const s = await server((_n, req) => req.socket.destroy());
    try {
      await assert.rejects(post(s.url), /fetch failed/);
      assert.equal(s.requests(), 2);
    } finally {
      await s.close();
    }
  });

  it('a response, even a 503, is final', async () => {
    const s = await server((_n, _req, res) => res.writeHead(503).end());
    try {
      assert.equal((await post(s.url)).status, 503);
      assert.equal(s.requests(), 1);
    } finally {
      await s.close();
    }
  });

  it('a timeout is not retried', async () => {
    const s = await server(() => {});
    try {
      await assert.rejects(post(s.url, 200), { name: 'TimeoutError' });
      assert.equal(s.requests(), 1);
    } finally {
      await s.close();
    }
  });
});
