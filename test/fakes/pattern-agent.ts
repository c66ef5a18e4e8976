// A minimal agent for the `websocket` backend protocol (docs/websocket-backend.md) that tests can
// check byte for byte: on `start` it sends a known mu-law pattern (never 0xFF, the mu-law silence
// byte) in chunks, and it keeps every caller audio byte it receives and every start message.
import { createServer, type Server } from 'node:http';
import { type WebSocket, WebSocketServer } from 'ws';
import { listenOn } from './speech.ts';

export interface PatternSession {
  start: Record<string, unknown>;
  received: Buffer[];
  ws: WebSocket;
}

/** n bytes of a pattern with no 0xFF in it. */
export function agentPattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 8)) % 255;
  return b;
}

export class PatternAgent {
  readonly server: Server;
  readonly wss = new WebSocketServer({ noServer: true });
  readonly sessions: PatternSession[] = [];
  readonly pattern: Buffer;
  readonly chunkBytes: number;

  /** Said by the "caller" on every call (a transcript turn, so the call leaves a summary memory). */
  callerSays: string | undefined;

  constructor(patternBytes = 8000, chunkBytes = 1600, callerSays?: string) {
    this.callerSays = callerSays;
    this.pattern = agentPattern(patternBytes);
    this.chunkBytes = chunkBytes;
    this.server = createServer((_req, res) => res.writeHead(404).end());
    this.server.on('upgrade', (req, socket, head) =>
      this.wss.handleUpgrade(req, socket, head, (ws) => this.#session(ws)),
    );
  }

  async start(): Promise<string> {
    const port = await listenOn(this.server);
    return `ws://127.0.0.1:${port}/agent`;
  }

  #session(ws: WebSocket): void {
    let session: PatternSession | undefined;
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as { type: string; audio?: string };
      if (m.type === 'start') {
        session = { start: m as Record<string, unknown>, received: [], ws };
        this.sessions.push(session);
        for (let off = 0; off < this.pattern.length; off += this.chunkBytes) {
          const audio = this.pattern.subarray(off, off + this.chunkBytes).toString('base64');
          ws.send(JSON.stringify({ type: 'audio', audio, itemId: 'greeting' }));
        }
        if (this.callerSays)
          ws.send(JSON.stringify({ type: 'transcript', role: 'caller', text: this.callerSays }));
      } else if (m.type === 'audio' && m.audio && session) {
        session.received.push(Buffer.from(m.audio, 'base64'));
      }
    });
    ws.on('error', () => {});
  }

  async stop(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
