// A tiny load balancer for tests with several gateway processes: forwards HTTP requests and WebSocket
// upgrades, round robin, to the backends whose GET /health/ready answered 200 at the last poll (as a
// Service drops a pod that fails readiness). Enough to watch a hand-off land on the pod that is not draining.
import { createServer, request, type Server } from 'node:http';
import { connect } from 'node:net';
import { listenOn } from '../fakes/speech.ts';

export class ReadyBalancer {
  readonly server: Server;
  readonly backends = new Set<string>();
  #ready: string[] = [];
  #next = 0;
  #poll: NodeJS.Timeout | undefined;

  constructor(backends: string[] = []) {
    for (const b of backends) this.backends.add(b);
    this.server = createServer((req, res) => {
      const target = this.#pick();
      if (!target) {
        res.writeHead(503).end('no ready backend');
        return;
      }
      const url = new URL(target);
      const up = request(
        { host: url.hostname, port: url.port, method: req.method, path: req.url, headers: req.headers },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      up.on('error', () => res.headersSent || res.writeHead(502).end());
      req.pipe(up);
    });
    this.server.on('upgrade', (req, socket, head) => {
      socket.on('error', () => {});
      const target = this.#pick();
      if (!target) {
        socket.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      const url = new URL(target);
      const up = connect(Number(url.port), url.hostname, () => {
        let head1 = `${req.method} ${req.url} HTTP/1.1\r\n`;
        for (let i = 0; i < req.rawHeaders.length; i += 2)
          head1 += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
        up.write(`${head1}\r\n`);
        if (head.length) up.write(head);
        socket.pipe(up).pipe(socket);
      });
      up.on('error', () => socket.destroy());
      socket.on('close', () => up.destroy());
      up.on('close', () => socket.destroy());
    });
  }

  async start(): Promise<string> {
    const port = await listenOn(this.server);
    await this.refresh();
    this.#poll = setInterval(() => void this.refresh(), 100);
    return `http://127.0.0.1:${port}`;
  }

  async refresh(): Promise<void> {
    const ready: string[] = [];
    await Promise.all(
      [...this.backends].map(async (b) => {
        try {
          const r = await fetch(`${b}/health/ready`, { signal: AbortSignal.timeout(500) });
          await r.arrayBuffer();
          if (r.ok) ready.push(b);
        } catch {}
      }),
    );
    this.#ready = ready.sort();
  }

  #pick(): string | undefined {
    if (!this.#ready.length) return undefined;
    return this.#ready[this.#next++ % this.#ready.length];
  }

  async stop(): Promise<void> {
    clearInterval(this.#poll);
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
