// The baseline: a raw `ws` server that echoes every message back, nothing else.
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { benchHttp, listenForBench } from './bench-http.ts';

const server = createServer(benchHttp);
// Plain `ws` defaults: the baseline is what a team would write without tuning anything.
const wss = new WebSocketServer({ server });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
listenForBench(server, Number(process.argv[2]));
