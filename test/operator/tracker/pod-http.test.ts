import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { askPod } from '../../../operator/tracker/pod-http.ts';

let server: Server;
let base: string;
before(async () => {
  server = createServer((req, res) => {
    if (req.url === '/status') return void res.end(JSON.stringify({ activeCalls: 2 }));
    if (req.url === '/echo') {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => res.writeHead(409).end(JSON.stringify({ got: body, sig: req.headers['x-sig'] })));
      return;
    }
    if (req.url === '/garbage') return void res.end('not json {');
    if (req.url === '/huge') {
      res.write('['.padEnd(40_000, ' '));
      res.write(''.padEnd(40_000, ' '));
      return void res.end(']');
    }
    // /silent: never answers
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const connections = () => new Promise<number>((r) => server.getConnections((_e, n) => r(n)));

test('a JSON answer is parsed and the connection is not kept open afterwards', async () => {
  assert.deepEqual(await askPod(`${base}/status`, { timeoutMs: 2000 }), {
    status: 200,
    body: { activeCalls: 2 },
  });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(await connections(), 0, 'no keep-alive socket per pod');
});

test('a POST carries its body and headers; the status is returned as it is', async () => {
  const answer = await askPod(`${base}/echo`, {
    method: 'POST',
    headers: { 'x-sig': 'abc', 'content-type': 'application/json' },
    body: '{"pod":"p"}',
    timeoutMs: 2000,
  });
  assert.deepEqual(answer, { status: 409, body: { got: '{"pod":"p"}', sig: 'abc' } });
});

test('a body that is not JSON is undefined, not an exception', async () => {
  assert.deepEqual(await askPod(`${base}/garbage`, { timeoutMs: 2000 }), { status: 200, body: undefined });
});

test('an answer over the byte bound and a pod that never answers are refused in bounded time', async () => {
  await assert.rejects(
    askPod(`${base}/huge`, { timeoutMs: 2000, maxBytes: 64 * 1024 }),
    /answer over 65536 bytes/,
  );
  const t0 = performance.now();
  await assert.rejects(askPod(`${base}/silent`, { timeoutMs: 200 }), /no answer within 200 ms/);
  assert.ok(performance.now() - t0 < 1500);
  await assert.rejects(askPod('http://127.0.0.1:1/status', { timeoutMs: 2000 }), /ECONNREFUSED/);
});
