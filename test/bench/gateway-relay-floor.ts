// Floors for bench:gateway (issue 23): what a call costs with the transport every gateway must use
// and none of the gateway's work. Both floors take Twilio's frames with the gateway's own reader
// (shared reads, in-place unmask: twilio/media-frames.ts), open one zero-masked WebSocket per call
// to the backend (backends/ws-connect.ts), write the gateway's way (one ready-made frame, one write:
// lib/ws-frame.ts) and carry the agent's audio to the caller as a media message and its mark.
// - `sink`: drops the caller's audio (nothing goes up to the backend).
// - `relay`: sends it on in chunks of `chunkFrames` frames: each frame's base64 decoded into the
//   chunk, one encode and one write per chunk (the backend reads the bench's stamps in every frame).
// What they leave out is what the gateway adds: the stream sid, base64 and frame-size checks, the
// speech detector, turn tracking, barge-in, marks bookkeeping, metrics, the chunk's time bound.
// Not a gateway: it trusts every byte. HTTP as the echo's (bench-http.ts).
// Usage: node gateway-relay-floor.ts <port> <backend ws url> <sink|relay> <chunkFrames>
import { createServer } from 'node:http';
import type WebSocket from 'ws';
import { WebSocketServer } from 'ws';
import { audioMessage } from '../../voice-gateway/backends/websocket.ts';
import { connectWebSocket } from '../../voice-gateway/backends/ws-connect.ts';
import { sendAsciiFrames } from '../../voice-gateway/lib/ws-frame.ts';
import { MediaFrameReader } from '../../voice-gateway/twilio/media-frames.ts';
import { markMessage, mediaMessage } from '../../voice-gateway/twilio/media-protocol.ts';
import { benchHttp, listenForBench } from './bench-http.ts';

const [portArg, backendUrl = '', mode = 'relay', chunkFramesArg = '2'] = process.argv.slice(2);
const CHUNK_FRAMES = Number(chunkFramesArg);
if (mode !== 'sink' && mode !== 'relay') throw new Error(`no floor "${mode}" (sink, relay)`);
const MAX_PAYLOAD = 64 * 1024;
const PAYLOAD = Buffer.from('"payload":"');
const AGENT_AUDIO = Buffer.from('"audio":"');
const QUOTE = 34;

const server = createServer(benchHttp);
const wss = new WebSocketServer({ server, maxPayload: MAX_PAYLOAD, perMessageDeflate: false });

wss.on('connection', (caller) => {
  let streamSid = '';
  let backend: WebSocket | undefined;
  let marks = 0;
  const chunk = Buffer.allocUnsafe(CHUNK_FRAMES * 1024);
  let chunkBytes = 0;
  let chunkFrames = 0;

  const toCaller = (data: Buffer) => {
    const at = data.indexOf(AGENT_AUDIO) + AGENT_AUDIO.length;
    if (at < AGENT_AUDIO.length) return;
    const audio = data.toString('latin1', at, data.indexOf(QUOTE, at));
    sendAsciiFrames(caller, mediaMessage(streamSid, audio), markMessage(streamSid, `m${++marks}`));
  };

  const start = async (msg: { start: { streamSid: string; callSid: string } }) => {
    streamSid = msg.start.streamSid;
    const ws = await connectWebSocket(backendUrl, {}, 5000, MAX_PAYLOAD, (w) =>
      w.on('message', (data) => toCaller(data as Buffer)),
    );
    ws.send(JSON.stringify({ type: 'start', callSid: msg.start.callSid, streamSid }));
    backend = ws;
    caller.once('close', () => ws.terminate());
  };

  const onText = (frame: Buffer) => {
    if (!backend) {
      const msg = JSON.parse(frame.toString()) as { event?: string };
      if (msg.event === 'start') void start(msg as Parameters<typeof start>[0]);
      return;
    }
    if (mode !== 'relay') return;
    const at = frame.indexOf(PAYLOAD) + PAYLOAD.length;
    if (at < PAYLOAD.length) return; // a mark echoed by the caller
    chunkBytes += chunk.write(frame.toString('latin1', at, frame.indexOf(QUOTE, at)), chunkBytes, 'base64');
    if (++chunkFrames < CHUNK_FRAMES) return;
    sendAsciiFrames(backend, audioMessage(chunk.toString('base64', 0, chunkBytes)));
    chunkBytes = 0;
    chunkFrames = 0;
  };

  caller.on('message', (data) => onText(data as Buffer));
  const reader = MediaFrameReader.attach(caller, MAX_PAYLOAD, onText);
  if (!reader?.sharedReads)
    process.stderr.write("floor: not the gateway's read path (ws internals changed?)\n");
  caller.on('error', () => {});
});

listenForBench(server, Number(portArg));
