// Protocol-faithful fake of the OpenAI Realtime GA WebSocket (test/fixtures/openai-realtime.json):
// bearer auth, session.update with audio/pcmu, input_audio_buffer.append, server VAD events
// (speech_started with item_id), response.output_audio.delta per assistant item, and it rejects a
// conversation.item.truncate whose audio_end_ms is beyond the audio it sent (as the real API does),
// response.create (a response without a caller turn, e.g. a re-prompt with its instructions), function
// calls (response.function_call_arguments.done). It fails like the service: refuses new sessions (503),
// drops sessions (at once or mid-turn) and stalls (socket open, nothing sent).
import { createServer, type Server } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import { toneMulaw } from '../../voice-gateway/audio/tone.ts';
import type { TurnMode } from './elevenlabs.ts';
import { listenOn, SpeechDetector } from './speech.ts';

export interface RtSession {
  ws: WebSocket;
  model: string | null;
  sessionUpdate: Record<string, unknown> | undefined;
  appends: number;
  /** Milliseconds of caller audio appended (the gateway may send several 20 ms frames per append). */
  audioMs: number;
  truncates: Record<string, unknown>[];
  errors: string[];
  messages: Record<string, unknown>[];
  /** Caller turns that ended (server VAD), responses sent, response.create requests. */
  turns: number;
  answers: number;
  responseCreates: Record<string, unknown>[];
  stalled: boolean;
}

export class FakeOpenAiRealtime {
  readonly server: Server;
  readonly wss = new WebSocketServer({ noServer: true });
  readonly sessions: RtSession[] = [];
  readonly apiKey: string;
  replyMs: number;
  failConnections = false;
  turnMode: TurnMode = 'answer';
  #item = 0;

  constructor(apiKey = 'sk-test', replyMs = 1500) {
    this.apiKey = apiKey;
    this.replyMs = replyMs;
    this.server = createServer((_req, res) => res.writeHead(404).end());
    this.server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const refuse = (code: number) => socket.end(`HTTP/1.1 ${code} No\r\nContent-Length: 0\r\n\r\n`);
      if (this.failConnections) return refuse(503);
      if (url.pathname !== '/v1/realtime') return refuse(404);
      if (req.headers.authorization !== `Bearer ${this.apiKey}`) return refuse(401);
      this.wss.handleUpgrade(req, socket, head, (ws) => this.#session(ws, url.searchParams.get('model')));
    });
  }

  async start(): Promise<string> {
    return `ws://127.0.0.1:${await listenOn(this.server)}`;
  }

  async stop(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Kills every live session. */
  dropAll(): void {
    for (const c of this.wss.clients) c.terminate();
  }

  /** Every live session goes quiet without closing. */
  stallAll(): void {
    for (const s of this.sessions) s.stalled = true;
  }

  /** The model calls a function: the GA event the client acts on, arguments as a JSON string. */
  functionCall(s: RtSession, name: string, args: Record<string, unknown>, callId = 'call_transfer_1'): void {
    s.ws.send(
      JSON.stringify({
        type: 'response.function_call_arguments.done',
        event_id: `event_fc_${callId}`,
        response_id: 'resp_fc',
        item_id: `item_fc_${callId}`,
        output_index: 0,
        call_id: callId,
        name,
        arguments: JSON.stringify(args),
      }),
    );
  }

  #session(ws: WebSocket, model: string | null): void {
    const s: RtSession = {
      ws,
      model,
      sessionUpdate: undefined,
      appends: 0,
      audioMs: 0,
      truncates: [],
      errors: [],
      messages: [],
      turns: 0,
      answers: 0,
      responseCreates: [],
      stalled: false,
    };
    this.sessions.push(s);
    const send = (m: Record<string, unknown>) =>
      !s.stalled && ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(m));
    send({ type: 'session.created', event_id: 'event_0', session: { id: `sess_${this.sessions.length}` } });
    const detector = new SpeechDetector();
    const sentMs = new Map<string, number>();
    let audioMs = 0;
    const respond = () => {
      s.answers++;
      const item = `item_${++this.#item}`;
      const audio = toneMulaw(440, this.replyMs, 8000);
      for (let off = 0; off < audio.length; off += 1600) {
        const chunk = audio.subarray(off, off + 1600);
        sentMs.set(item, (sentMs.get(item) ?? 0) + chunk.length / 8);
        send({
          type: 'response.output_audio.delta',
          event_id: `event_d${off}`,
          response_id: 'resp_1',
          item_id: item,
          output_index: 0,
          content_index: 0,
          delta: chunk.toString('base64'),
        });
      }
      send({ type: 'response.output_audio_transcript.done', item_id: item, transcript: 'assistant reply' });
    };
    ws.on('message', (data) => {
      if (s.stalled) return;
      const m = JSON.parse(data.toString()) as Record<string, unknown>;
      if (m.type === 'input_audio_buffer.append') {
        s.appends++;
        const b = Buffer.from(String(m.audio), 'base64');
        audioMs += b.length / 8;
        s.audioMs = audioMs;
        const t = detector.feedMulaw(b);
        if (t === 'start') {
          send({
            type: 'input_audio_buffer.speech_started',
            event_id: `event_s${s.appends}`,
            audio_start_ms: audioMs,
            item_id: `item_in_${s.appends}`,
          });
        } else if (t === 'end') {
          send({
            type: 'input_audio_buffer.speech_stopped',
            event_id: `event_e${s.appends}`,
            audio_end_ms: audioMs,
          });
          s.turns++;
          if (this.turnMode === 'hold') return;
          if (this.turnMode === 'drop') return ws.terminate();
          if (this.turnMode === 'stall') {
            s.stalled = true;
            return;
          }
          respond();
        }
        return;
      }
      s.messages.push(m);
      if (m.type === 'session.update') s.sessionUpdate = m;
      if (m.type === 'response.create') {
        s.responseCreates.push(m);
        respond();
      }
      if (m.type === 'conversation.item.truncate') {
        s.truncates.push(m);
        const sent = sentMs.get(String(m.item_id));
        if (sent === undefined || Number(m.audio_end_ms) > sent) {
          s.errors.push('audio_end_ms beyond audio sent');
          send({
            type: 'error',
            error: { type: 'invalid_request_error', message: 'audio_end_ms beyond audio sent' },
          });
        }
      }
    });
  }
}
