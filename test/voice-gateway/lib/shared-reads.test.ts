// One read buffer for every socket: reads arrive through the callback, not as 'data', and a socket
// that is not a plain Node TCP socket with an empty stream is left as it was.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import { readIntoSharedBuffer } from '../../../voice-gateway/lib/shared-reads.ts';

async function pair(server: Server): Promise<{ accepted: Socket; client: Socket }> {
  const accepted = once(server, 'connection');
  const client = connect((server.address() as { port: number }).port, '127.0.0.1');
  const [socket] = (await accepted) as [Socket];
  return { accepted: socket, client };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(check());
};

describe('shared reads (lib/shared-reads)', () => {
  it('delivers every byte to the callback from one buffer shared by sockets, none as data; false pauses', async () => {
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const a = await pair(server);
      const b = await pair(server);
      const got = { a: [] as Buffer[], b: [] as Buffer[] };
      const buffers = new Set<Buffer>();
      let dataEvents = 0;
      let stopA = false;
      for (const [name, s] of [
        ['a', a.accepted],
        ['b', b.accepted],
      ] as const) {
        s.on('data', () => dataEvents++);
        const taken = readIntoSharedBuffer(s, (n, buf) => {
          buffers.add(buf);
          got[name].push(Buffer.from(buf.subarray(0, n)));
          return name === 'a' && stopA ? false : undefined;
        });
        assert.equal(taken, true);
      }
      a.client.write('hello ');
      b.client.write('other');
      await until(() => got.a.length > 0 && got.b.length > 0);
      assert.equal(Buffer.concat(got.a).toString(), 'hello ');
      assert.equal(Buffer.concat(got.b).toString(), 'other');
      assert.equal(buffers.size, 1, 'one buffer for both sockets');
      assert.equal(dataEvents, 0);

      stopA = true;
      a.client.write('paused');
      await until(() => Buffer.concat(got.a).toString() === 'hello paused');
      stopA = false;
      a.client.write(' later');
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(Buffer.concat(got.a).toString(), 'hello paused', 'no reads while paused');
      a.accepted.resume();
      await until(() => Buffer.concat(got.a).toString() === 'hello paused later');

      const ended = once(a.accepted, 'end');
      a.accepted.resume();
      a.client.end();
      await ended;
      for (const p of [a, b]) {
        p.client.destroy();
        p.accepted.destroy();
      }
    } finally {
      server.close();
    }
  });

  it('leaves a socket that already holds unread bytes, and a stream that is not a TCP socket', async () => {
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { accepted, client } = await pair(server);
      accepted.pause();
      accepted.unshift(Buffer.from('head'));
      assert.equal(
        readIntoSharedBuffer(accepted, () => undefined),
        false,
      );
      const got: Buffer[] = [];
      accepted.on('data', (d) => got.push(d));
      accepted.resume();
      client.write(' then more');
      await until(() => Buffer.concat(got).toString() === 'head then more');
      client.destroy();
      accepted.destroy();
    } finally {
      server.close();
    }
    const duplex = new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
    assert.equal(
      readIntoSharedBuffer(duplex as unknown as Socket, () => undefined),
      false,
    );
  });
});
