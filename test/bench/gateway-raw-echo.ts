// The baseline: a raw `ws` server that echoes every message back, nothing else. GET /memory gives
// the bench the same heap breakdown the gateway's /metrics gives.
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const server = createServer((req, res) => {
  if (req.url !== '/memory') return void res.writeHead(426).end();
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(process.memoryUsage()));
});
// Plain `ws` defaults: the baseline is what a team would write without tuning anything.
const wss = new WebSocketServer({ server });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
server.listen(Number(process.argv[2]), '127.0.0.1', () => process.stdout.write('LISTENING\n'));
process.on('SIGTERM', () => process.exit(0)); // lets --cpu-prof write its profile
