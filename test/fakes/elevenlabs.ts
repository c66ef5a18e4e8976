// Protocol-faithful fake of the ElevenLabs Agents WebSocket (test/fixtures/elevenlabs-agents.json):
// signed URL endpoint, conversation_initiation_metadata, pings that must be ponged, audio events with
// increasing event_id, interruption (event_id as a string) followed by a late stale audio event,
// agent_response / user_transcript, client_tool_call (search_memory, transfer_call), user_message answered
// like a caller turn. It fails like the service: refuses new conversations (HTTP 503 on the signed URL
// and the upgrade), drops conversations (at once or mid-turn) and stalls (socket open, nothing sent).
import { createServer, type Server } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import { pcm16ToBytes } from '../../voice-gateway/audio/resample.ts';
import { toneMulaw } from '../../voice-gateway/audio/tone.ts';
import { listenOn, SpeechDetector } from './speech.ts';

export interface FakeElevenLabsOptions {
  apiKey?: string;
  outputFormat?: string;
  inputFormat?: string;
  /** Agent reply length in ms (sent as 200 ms chunks, at once). */
  replyMs?: number;
  greetingMs?: number;
}

/** What the fake does when a caller turn ends: answer it, hold it (thinking), drop or stall the conversation. */
export type TurnMode = 'answer' | 'hold' | 'drop' | 'stall';

export interface ElConversation {
  ws: WebSocket;
  id: string;
  init: Record<string, unknown> | undefined;
  pongs: number[];
  audioChunks: number;
  /** Milliseconds of caller audio received (the gateway may send several 20 ms frames per chunk). */
  audioMs: number;
  messages: Record<string, unknown>[];
  toolResults: Record<string, unknown>[];
  /** The agent spoke its first message (not when overridden with first_message ""). */
  greeted: boolean;
  /** Caller turns that ended, and those answered (audio + agent_response). */
  turns: number;
  answers: number;
  /** Stalled: nothing is sent any more and input is ignored, the socket stays open. */
  stalled: boolean;
}

export class FakeElevenLabs {
  readonly server: Server;
  readonly wss: WebSocketServer;
  readonly conversations: ElConversation[] = [];
  port = 0;
  /** Refuse new conversations with HTTP 503. */
  failConnections = false;
  /** What happens at the end of each caller turn (default: answer). */
  turnMode: TurnMode = 'answer';
  signedUrlRequests = 0;
  readonly #o: FakeElevenLabsOptions;
  #eventId = 0;

  constructor(o: FakeElevenLabsOptions = {}) {
    this.#o = o;
    this.wss = new WebSocketServer({ noServer: true });
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/v1/convai/conversation/get-signed-url') {
        this.signedUrlRequests++;
        if (this.failConnections) {
          res.writeHead(503).end('{"detail":"service unavailable"}');
          return;
        }
        if (!this.#o.apiKey || req.headers['xi-api-key'] !== this.#o.apiKey) {
          res.writeHead(401).end('{"detail":"invalid api key"}');
          return;
        }
        const agent = url.searchParams.get('agent_id');
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            signed_url: `ws://127.0.0.1:${this.port}/v1/convai/conversation?agent_id=${agent}&token=tok_${agent}`,
          }),
        );
        return;
      }
      res.writeHead(404).end();
    });
    this.server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const refuse = (code: number) => socket.end(`HTTP/1.1 ${code} No\r\nContent-Length: 0\r\n\r\n`);
      if (this.failConnections) return refuse(503);
      if (url.pathname !== '/v1/convai/conversation' || !url.searchParams.get('agent_id')) return refuse(404);
      if (this.#o.apiKey && url.searchParams.get('token') !== `tok_${url.searchParams.get('agent_id')}`)
        return refuse(403);
      this.wss.handleUpgrade(req, socket, head, (ws) => this.#conversation(ws));
    });
  }

  async start(): Promise<string> {
    this.port = await listenOn(this.server);
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Kills every live conversation (a backend dropping mid-call). */
  dropAll(): void {
    for (const c of this.wss.clients) c.terminate();
  }

  /** Every live conversation goes quiet without closing (no audio, no events, input ignored). */
  stallAll(): void {
    for (const c of this.conversations) c.stalled = true;
  }

  /** Live (open, not stalled) conversations. */
  get live(): ElConversation[] {
    return this.conversations.filter((c) => c.ws.readyState === WebSocket.OPEN && !c.stalled);
  }

  /** The agent calls the transfer_call client tool (as configured on the ElevenLabs agent). */
  transferCall(c: ElConversation, parameters: Record<string, unknown>, id = 'tool_call_transfer'): void {
    c.ws.send(
      JSON.stringify({
        type: 'client_tool_call',
        client_tool_call: { tool_name: 'transfer_call', tool_call_id: id, parameters },
      }),
    );
  }

  #answer(c: ElConversation): void {
    c.answers++;
    this.#speak(c, this.#o.replyMs ?? 1000);
  }

  #audio(mulaw: Buffer): string {
    const fmt = this.#o.outputFormat ?? 'ulaw_8000';
    if (fmt === 'ulaw_8000') return mulaw.toString('base64');
    const rate = Number(fmt.split('_')[1]);
    const n = Math.floor((mulaw.length * rate) / 8000);
    const pcm = new Int16Array(n);
    for (let i = 0; i < n; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate));
    return pcm16ToBytes(pcm).toString('base64');
  }

  #speak(c: ElConversation, ms: number): void {
    const audio = toneMulaw(440, ms, 8000);
    for (let off = 0; off < audio.length; off += 1600) {
      if (c.ws.readyState !== WebSocket.OPEN) return;
      c.ws.send(
        JSON.stringify({
          type: 'audio',
          audio_event: {
            audio_base_64: this.#audio(audio.subarray(off, off + 1600)),
            event_id: ++this.#eventId,
          },
        }),
      );
    }
    c.ws.send(
      JSON.stringify({
        type: 'agent_response',
        agent_response_event: { agent_response: `reply of ${ms} ms` },
      }),
    );
  }

  /** Sends a client_tool_call for search_memory. */
  toolCall(c: ElConversation, query: string, id = 'tool_call_123'): void {
    c.ws.send(
      JSON.stringify({
        type: 'client_tool_call',
        client_tool_call: { tool_name: 'search_memory', tool_call_id: id, parameters: { query } },
      }),
    );
  }

  #conversation(ws: WebSocket): void {
    const c: ElConversation = {
      ws,
      id: `conv_${this.conversations.length + 1}`,
      init: undefined,
      pongs: [],
      audioChunks: 0,
      audioMs: 0,
      messages: [],
      toolResults: [],
      greeted: false,
      turns: 0,
      answers: 0,
      stalled: false,
    };
    this.conversations.push(c);
    const detector = new SpeechDetector();
    let agentSpeakingUntil = 0;
    const inFmt = this.#o.inputFormat ?? 'ulaw_8000';
    ws.on('message', (data) => {
      if (c.stalled) return;
      const m = JSON.parse(data.toString()) as Record<string, unknown>;
      if (typeof m.user_audio_chunk === 'string') {
        c.audioChunks++;
        const b = Buffer.from(m.user_audio_chunk, 'base64');
        c.audioMs +=
          inFmt === 'ulaw_8000' ? b.length / 8 : b.length / 2 / (Number(inFmt.split('_')[1]) / 1000);
        const t =
          inFmt === 'ulaw_8000' ? detector.feedMulaw(b) : detector.feedPcm(b, Number(inFmt.split('_')[1]));
        if (t === 'start' && Date.now() < agentSpeakingUntil) {
          agentSpeakingUntil = 0;
          const interruptedId = this.#eventId;
          ws.send(
            JSON.stringify({ type: 'interruption', interruption_event: { event_id: String(interruptedId) } }),
          );
          // A stale chunk of the interrupted response arriving late: the gateway must drop it.
          ws.send(
            JSON.stringify({
              type: 'audio',
              audio_event: { audio_base_64: this.#audio(toneMulaw(440, 200)), event_id: interruptedId },
            }),
          );
        }
        if (t === 'end') {
          c.turns++;
          if (this.turnMode === 'hold') return;
          if (this.turnMode === 'drop') return ws.terminate();
          if (this.turnMode === 'stall') {
            c.stalled = true;
            return;
          }
          ws.send(
            JSON.stringify({
              type: 'user_transcript',
              user_transcription_event: { user_transcript: 'caller speech' },
            }),
          );
          agentSpeakingUntil = Date.now() + (this.#o.replyMs ?? 1000);
          this.#answer(c);
        }
        return;
      }
      c.messages.push(m);
      if (m.type === 'conversation_initiation_client_data') {
        c.init = m;
        ws.send(
          JSON.stringify({
            type: 'conversation_initiation_metadata',
            conversation_initiation_metadata_event: {
              conversation_id: c.id,
              agent_output_audio_format: this.#o.outputFormat ?? 'ulaw_8000',
              user_input_audio_format: inFmt,
            },
          }),
        );
        ws.send(JSON.stringify({ type: 'ping', ping_event: { event_id: 12345, ping_ms: 50 } }));
        // As ElevenLabs: an empty first_message override means the agent waits for the caller.
        const override = (
          m.conversation_config_override as { agent?: { first_message?: unknown } } | undefined
        )?.agent?.first_message;
        const greet = override === '' ? 0 : (this.#o.greetingMs ?? 400);
        if (greet) {
          c.greeted = true;
          agentSpeakingUntil = Date.now() + greet;
          this.#speak(c, greet);
        }
      } else if (m.type === 'pong') {
        c.pongs.push(Number(m.event_id));
      } else if (m.type === 'client_tool_result') {
        c.toolResults.push(m);
      } else if (m.type === 'user_message') {
        // A text turn: the agent answers it as it would a spoken one.
        agentSpeakingUntil = Date.now() + (this.#o.replyMs ?? 1000);
        this.#answer(c);
      }
    });
  }
}
