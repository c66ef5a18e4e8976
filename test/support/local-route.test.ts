// A range made local can be bound and dialled at any address in it, and is gone once released.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { describe, it } from 'node:test';
import { networkOf, routeLocally } from './local-route.ts';

const routes = () => execFileSync('ip', ['route', 'show', 'table', 'local'], { encoding: 'utf8' });

describe('networkOf', () => {
  it('gives the network address of a range given by any address in it', () => {
    assert.equal(networkOf('198.19.0.1/16'), '198.19.0.0/16');
    assert.equal(networkOf('10.1.2.200/25'), '10.1.2.128/25');
    assert.equal(networkOf('10.1.2.3/32'), '10.1.2.3/32');
    assert.equal(networkOf('10.255.255.255/8'), '10.0.0.0/8');
  });
});

describe('routeLocally', () => {
  it('makes every address of the range bindable until released', async () => {
    // 198.19.250.0/24: inside the benchmarks' range, away from what a running benchmark hands out.
    const release = routeLocally('198.19.250.1/24');
    try {
      assert.match(routes(), /local 198\.19\.250\.0\/24 dev lo/);
      const server = createServer((socket) => socket.end('pod'));
      await new Promise<void>((resolve) => server.listen(0, '198.19.250.77', resolve));
      const port = (server.address() as { port: number }).port;
      // Read to the end and let both sockets close while the range is still local (after it is gone,
      // their last packets would have nowhere to go and the sockets would linger).
      const reply = await new Promise<string>((resolve, reject) => {
        let text = '';
        const socket = connect(port, '198.19.250.77');
        socket.on('data', (data) => {
          text += String(data);
        });
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
      });
      assert.equal(reply, 'pod');
      await new Promise<void>((resolve) => server.close(() => resolve()));
    } finally {
      release();
    }
    assert.doesNotMatch(routes(), /198\.19\.250\.0\/24/);
    release(); // twice is harmless
  });
});
