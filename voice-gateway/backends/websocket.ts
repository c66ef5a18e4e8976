// The `websocket` backend: a small JSON protocol for a team's own pipeline (docs/websocket-backend.md).
import { asRecord, asString } from '../lib/json-shape.ts';
import { isBase64 } from '../twilio/media-protocol.ts';
import type { AgentBackend, BackendSink, BackendStart } from './types.ts';
import { scanAudio } from './websocket-scan.ts';
import { WsBackend, type WsBackendOptions } from './ws-backend.ts';
import { connectWebSocket } from './ws-connect.ts';

export interface WebSocketBackendOptions extends WsBackendOptions {
  url: string;
  token: string | undefined;
}

/** Caller audio as the protocol's `audio` message (base64 needs no JSON escapes). */
export function audioMessage(payloadB64: string): string {
  return `{"type":"audio","audio":"${payloadB64}"}`;
}

export class WebSocketBackend extends WsBackend implements AgentBackend {
  readonly provider = 'websocket' as const;
  /** Both audio paths (scanAudio, and onMessage's isBase64) check the payload. */
  readonly checksAudio = true;
  readonly #o: WebSocketBackendOptions;

  constructor(sink: BackendSink, o: WebSocketBackendOptions) {
    super(sink, o);
    this.#o = o;
  }

  async start(s: BackendStart): Promise<void> {
    const headers: Record<string, string> = {};
    if (this.#o.token) headers.authorization = `Bearer ${this.#o.token}`;
    await connectWebSocket(this.#o.url, headers, this.#o.connectTimeoutMs, this.#o.maxPayload, (ws) =>
      this.attach(ws),
    );
    this.sendJson({
      type: 'start',
      callSid: s.callSid,
      streamSid: s.streamSid,
      from: s.from,
      to: s.to,
      audio: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      context: s.context,
      ...(s.resumed ? { resumed: { transcript: s.resumed.transcript } } : {}),
    });
  }

  protected override onFrame(frame: Buffer): boolean {
    const a = scanAudio(frame);
    if (!a) return false;
    this.sink.audio(a.audio, a.itemId, this.receivedAt);
    return true;
  }

  protected onMessage(m: Record<string, unknown>): void {
    switch (m.type) {
      case 'audio': {
        const audio = asString(m.audio);
        if (audio === undefined || !isBase64(audio)) {
          this.sink.protocolError('missing_fields');
          return;
        }
        this.sink.audio(audio, asString(m.itemId), this.receivedAt);
        return;
      }
      case 'clear':
        this.sink.interrupted();
        return;
      case 'transcript': {
        const text = asString(m.text);
        if (text && (m.role === 'caller' || m.role === 'agent')) this.sink.transcript(m.role, text);
        return;
      }
      case 'tool_call':
        this.requestTool(m.name, m.id, () => asRecord(m.arguments) ?? {});
        return;
      case 'conversation': {
        const id = asString(m.id);
        if (id) this.sink.conversationId(id);
        return;
      }
      case 'hangup':
        this.sink.hangup();
        return;
      default:
        this.sink.protocolError('unknown_event');
    }
  }

  sendAudio(payloadB64: string): boolean {
    return this.sendRaw(audioMessage(payloadB64));
  }

  truncate(itemId: string, playedMs: number): void {
    this.sendJson({ type: 'truncate', itemId, playedMs: Math.floor(playedMs) });
  }

  sendDtmf(digit: string): void {
    this.sendJson({ type: 'dtmf', digit });
  }

  toolResult(callId: string, result: string, isError: boolean): void {
    this.sendJson({ type: 'tool_result', id: callId, result, isError });
  }

  reprompt(instruction: string): void {
    this.sendJson({ type: 'reprompt', text: instruction });
  }

  override close(): void {
    this.sendJson({ type: 'stop' });
    super.close();
  }
}
