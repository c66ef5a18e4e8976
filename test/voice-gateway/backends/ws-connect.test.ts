// A backend's first frames are not lost: a server that speaks the moment the upgrade completes (OpenAI
// Realtime's `session.created`, or any frame that shares a read with the 101 answer) is heard. ws
// delivers such frames on the next tick, before the code after `await connectWebSocket` runs, so the
// listeners are attached in `onOpen`.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import type { BackendSink } from '../../../voice-gateway/backends/types.ts';
import { WebSocketBackend } from '../../../voice-gateway/backends/websocket.ts';
import { connectWebSocket } from '../../../voice-gateway/backends/ws-connect.ts';

async function speakingServer(first: string): Promise<{ url: string; close(): void }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  wss.on('connection', (ws) => ws.send(first));
  const port = (wss.address() as { port: number }).port;
  return {
    url: `ws://127.0.0.1:${port}/`,
    close: () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
    },
  };
}

const settle = () => new Promise((r) => setTimeout(r, 50));

describe('backend connections hear the first frame', () => {
  it('connectWebSocket: a listener attached in onOpen gets the frame sent at connection, every time', async () => {
    const server = await speakingServer('hello');
    try {
      let heard = 0;
      for (let i = 0; i < 20; i++) {
        const ws = await connectWebSocket(server.url, {}, 2000, 1 << 20, (w) =>
          w.on('message', () => heard++),
        );
        await settle();
        ws.terminate();
      }
      assert.equal(heard, 20);
    } finally {
      server.close();
    }
  });

  it('the websocket backend relays audio its server sends the moment the call connects', async () => {
    const server = await speakingServer(
      JSON.stringify({ type: 'audio', audio: '/////w==', itemId: 'greeting' }),
    );
    const audio: string[] = [];
    const sink = {
      audio: (payload: string) => audio.push(payload),
      protocolError: (reason: string) => assert.fail(`protocol error ${reason}`),
      failed: () => {},
    } as unknown as BackendSink;
    try {
      for (let i = 0; i < 10; i++) {
        const backend = new WebSocketBackend(sink, {
          url: server.url,
          token: undefined,
          connectTimeoutMs: 2000,
          maxPayload: 1 << 20,
          maxBufferedBytes: 1 << 20,
        });
        await backend.start({ callSid: `CA${i}`, streamSid: `MZ${i}`, from: '+1', to: '+2' } as never);
        await settle();
        backend.close();
      }
      assert.deepEqual(audio, Array(10).fill('/////w=='));
    } finally {
      server.close();
    }
  });
});
