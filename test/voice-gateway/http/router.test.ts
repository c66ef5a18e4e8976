import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_HTTP_LIMITS } from '../../../voice-gateway/http/limits.ts';
import { text } from '../../../voice-gateway/http/response.ts';
import { createDoorServer } from '../../../voice-gateway/http/router.ts';
import { createLogger } from '../../../voice-gateway/log.ts';

describe('a door', () => {
  const rejects: string[] = [];
  const answered: [string, number][] = [];
  const server = createDoorServer({
    name: 'public',
    limits: { ...DEFAULT_HTTP_LIMITS, maxBodyBytes: 16 },
    log: createLogger('silent'),
    onReject: (r) => rejects.push(r),
    onRequest: (req, res) => res.once('finish', () => answered.push([req.url ?? '', res.statusCode])),
    routes: [
      {
        name: 'echo',
        methods: ['POST'],
        path: '/echo',
        handler: (r) => ({ status: 200, body: { got: r.body.toString() } }),
      },
      {
        name: 'prefix',
        methods: ['GET'],
        path: '/p/',
        prefix: true,
        handler: (r) => (r.path === '/p/x' ? text(200, r.query.get('q') ?? '') : undefined),
      },
      {
        name: 'boom',
        methods: ['GET'],
        path: '/boom',
        handler: () => {
          throw new Error('boom');
        },
      },
    ],
  });
  let url = '';
  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('routes exact paths and prefixes, reads bodies, answers JSON or text', async () => {
    const echo = await fetch(`${url}/echo`, { method: 'POST', body: 'hi' });
    assert.equal(echo.status, 200);
    assert.deepEqual(await echo.json(), { got: 'hi' });
    const p = await fetch(`${url}/p/x?q=1`);
    assert.equal(await p.text(), '1');
    assert.equal(p.headers.get('content-type'), 'text/plain');
  });

  it('404 for unknown paths and for a prefix handler that declines, 405 with Allow, 500 on a throw', async () => {
    assert.equal((await fetch(`${url}/nope`)).status, 404);
    assert.equal((await fetch(`${url}/p/y`)).status, 404);
    const wrong = await fetch(`${url}/echo`);
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'POST');
    assert.equal((await fetch(`${url}/boom`)).status, 500);
  });

  it('413 past the body limit; every request reported to the request hook with its answer', async () => {
    const big = await fetch(`${url}/echo`, { method: 'POST', body: 'x'.repeat(17) });
    assert.equal(big.status, 413);
    assert.equal(big.headers.get('connection'), 'close');
    assert.ok(rejects.includes('body_too_large'));
    assert.deepEqual(
      answered.find(([r]) => r === '/echo'),
      ['/echo', 200],
    );
    assert.ok(answered.some(([r, s]) => r === '/boom' && s === 500));
  });
});
