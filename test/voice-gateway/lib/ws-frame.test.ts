// The ready-made audio frame must be exactly what ws would send, and arrive as the same message.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import * as wsModule from 'ws';
import { WebSocket, WebSocketServer } from 'ws';
import { connectWebSocket, isZeroMasked, maskingMoot } from '../../../voice-gateway/backends/ws-connect.ts';
import { asciiTextFrame, sendAsciiFrames, writeAsciiFrame } from '../../../voice-gateway/lib/ws-frame.ts';

/** ws's own framing (exported at run time, not in @types/ws). */
const Sender = (wsModule as unknown as { Sender: { frame(data: Buffer, o: object): Buffer[] } }).Sender;
const zero = (m: Uint8Array) => m.fill(0);
const texts = [0, 1, 125, 126, 127, 1000, 65535, 65536, 70000].map((n) =>
  `{"type":"audio","audio":"${'A'.repeat(n)}"}`.slice(0, Math.max(0, n)),
);

describe('ready-made audio frames (ws-frame)', () => {
  it('are byte for byte the frames ws builds (client with a zero mask key, and server)', () => {
    /** ws's frame of `text`, as one buffer. */
    const wsFrame = (text: string, mask: boolean) =>
      Buffer.concat(
        Sender.frame(Buffer.from(text), {
          fin: true,
          opcode: 1,
          mask,
          generateMask: zero,
          maskBuffer: Buffer.alloc(4),
          readOnly: false,
          rsv1: false,
        }),
      );
    const mark = '{"event":"mark"}';
    for (const text of texts) {
      for (const mask of [true, false]) {
        assert.deepEqual(asciiTextFrame(text, mask), wsFrame(text, mask), `length ${text.length}`);
        assert.deepEqual(
          asciiTextFrame(text, mask, mark),
          Buffer.concat([wsFrame(text, mask), wsFrame(mark, mask)]),
          `pair, length ${text.length}`,
        );
      }
    }
  });

  it('masking is skipped only where no intermediary can read frames', () => {
    assert.equal(maskingMoot('wss://agent.example.com/x'), true);
    assert.equal(maskingMoot('ws://127.0.0.1:9/x'), true);
    assert.equal(maskingMoot('ws://localhost:9/x'), true);
    assert.equal(maskingMoot('ws://[::1]:9/x'), true);
    assert.equal(maskingMoot('ws://agent.internal:9/x'), false);
    assert.equal(maskingMoot('ws://10.0.0.7:9/x'), false);
  });

  it('reach a ws client from a server as the same messages, two frames in one write, in order with ws.send', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(wss, 'listening');
    const port = (wss.address() as { port: number }).port;
    const accepted = once(wss, 'connection');
    const client = await connectWebSocket(`ws://127.0.0.1:${port}/`, {}, 2000, 1 << 20);
    const [server] = (await accepted) as [WebSocket];
    const got: string[] = [];
    client.on('message', (d) => got.push(d.toString()));
    try {
      const sent: string[] = [];
      for (const [i, text] of texts.entries()) {
        if (i % 3 === 2) server.send(text);
        else assert.ok(writeAsciiFrame(server, text, `mark ${i}`), 'direct write taken');
        sent.push(text);
        if (i % 3 !== 2) sent.push(`mark ${i}`);
      }
      const deadline = Date.now() + 5000;
      while (got.length < sent.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(got, sent);
      server.close();
      assert.equal(writeAsciiFrame(server, 'after close'), false, 'a closing socket takes ws.send');
    } finally {
      client.terminate();
      wss.close();
    }
  });

  it('take ws.send, in order, when the ws sender has work of its own (compression)', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: true });
    await once(wss, 'listening');
    const port = (wss.address() as { port: number }).port;
    const accepted = once(wss, 'connection');
    const client = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: true });
    await once(client, 'open');
    const [server] = (await accepted) as [WebSocket];
    const got: string[] = [];
    client.on('message', (d) => got.push(d.toString()));
    try {
      assert.equal(writeAsciiFrame(server, 'x'), false, 'no ready-made frame while compressing');
      const sent: string[] = [];
      for (const [i, text] of texts.entries()) {
        sendAsciiFrames(server, text, `mark ${i}`);
        sent.push(text, `mark ${i}`);
      }
      sendAsciiFrames(server, 'alone');
      sent.push('alone');
      const deadline = Date.now() + 5000;
      while (got.length < sent.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(got, sent);
    } finally {
      client.terminate();
      wss.close();
    }
  });

  it('reach a ws server as the same messages, in order with ws.send, and count in bufferedAmount', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(wss, 'listening');
    const port = (wss.address() as { port: number }).port;
    const got: string[] = [];
    wss.on('connection', (s: WebSocket) => s.on('message', (d) => got.push(d.toString())));
    const ws = await connectWebSocket(`ws://127.0.0.1:${port}/`, {}, 2000, 1 << 20);
    try {
      assert.ok(isZeroMasked(ws));
      const sent: string[] = [];
      for (const [i, text] of texts.entries()) {
        if (i % 3 === 2) ws.send(text);
        else assert.ok(writeAsciiFrame(ws, text), 'direct write taken');
        sent.push(text);
      }
      const deadline = Date.now() + 5000;
      while (got.length < sent.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(got, sent);
    } finally {
      ws.terminate();
      for (const c of wss.clients) c.terminate();
      wss.close();
    }
  });
});
