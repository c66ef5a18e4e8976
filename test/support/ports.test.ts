// Ports for test processes come from below the kernel's ephemeral range (where outgoing connections
// never take their local port) and are free when handed out.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { freePort } from './ports.ts';

const ephemeralStart = Number(
  readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
);

describe('freePort', () => {
  it('hands out ports below the ephemeral range that can be bound', async () => {
    const ports = await Promise.all(Array.from({ length: 40 }, () => freePort()));
    for (const port of ports) assert.ok(port >= 20_000 && port < ephemeralStart, `port ${port}`);
    const port = ports[0] as number;
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    server.close();
  });

  it('skips a port that is taken: the next random one is handed out', async () => {
    const held = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => held.listen(port, '127.0.0.1', resolve));
    // The first pick lands on the held port, the next on its neighbour.
    const other = port > 20_000 ? port - 1 : port + 1;
    const picks = [port, other].map((p) => (p - 20_000 + 0.5) / (ephemeralStart - 20_000));
    const random = Math.random;
    Math.random = () => picks.shift() ?? random();
    try {
      const next = await freePort();
      assert.notEqual(next, port, 'a bound port was handed out');
      assert.equal(next, other);
    } finally {
      Math.random = random;
      held.close();
    }
  });
});
