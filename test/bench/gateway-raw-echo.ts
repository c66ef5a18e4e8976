// The baseline: a raw `ws` server that echoes every message back, nothing else.
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({
  port: Number(process.argv[2]),
  host: '127.0.0.1',
  perMessageDeflate: false,
  skipUTF8Validation: true, // as the gateway's media-stream server
});
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
wss.on('listening', () => process.stdout.write('LISTENING\n'));
process.on('SIGTERM', () => process.exit(0)); // lets --cpu-prof write its profile
