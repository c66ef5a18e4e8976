// The HTTP side of the bench's own servers (the echo, the floors): GET /memory gives the bench the heap
// breakdown the gateway's /metrics gives; anything else is 426.
// They print LISTENING once they listen (the bench waits for it) and exit on SIGTERM.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

export function benchHttp(req: IncomingMessage, res: ServerResponse): void {
  if (req.url !== '/memory') res.writeHead(426).end();
  else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(process.memoryUsage()));
}

/** Listens on 127.0.0.1:`port`, prints LISTENING, exits on SIGTERM (which lets --cpu-prof write its profile). */
export function listenForBench(server: Server, port: number): void {
  server.listen(port, '127.0.0.1', () => process.stdout.write('LISTENING\n'));
  process.on('SIGTERM', () => process.exit(0));
}
