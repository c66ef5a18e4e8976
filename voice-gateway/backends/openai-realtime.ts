// OpenAI Realtime, GA protocol, G.711 mu-law both ways (see test/fixtures/openai-realtime.json).
import { asRecord, asString } from '../lib/json-shape.ts';
import { contextText, resumeNote } from './context.ts';
import {
  type AgentBackend,
  type BackendSink,
  type BackendStart,
  TRANSFER_TOOL,
  TRANSFER_TOOL_DESCRIPTION,
  transferToolParameters,
} from './types.ts';
import { WsBackend, type WsBackendOptions } from './ws-backend.ts';
import { connectWebSocket, toWsBase } from './ws-connect.ts';

export interface OpenAiRealtimeOptions extends WsBackendOptions {
  model: string;
  voice: string | undefined;
  instructions: string | undefined;
  baseUrl: string;
  apiKey: string | undefined;
  withMemoryTool: boolean;
  /** calls.transfer targets: when set, the transfer_call function is offered. */
  transferTargets?: { name: string; description?: string | undefined }[] | undefined;
}

export class OpenAiRealtimeBackend extends WsBackend implements AgentBackend {
  readonly provider = 'openai-realtime' as const;
  readonly #o: OpenAiRealtimeOptions;
  /** ms of audio received per item, so a truncation never goes past what was sent. */
  #itemMs = new Map<string, number>();

  constructor(sink: BackendSink, o: OpenAiRealtimeOptions) {
    super(sink, o);
    this.#o = o;
  }

  async start(s: BackendStart): Promise<void> {
    const url = `${toWsBase(this.#o.baseUrl)}/v1/realtime?model=${encodeURIComponent(this.#o.model)}`;
    const headers: Record<string, string> = {};
    if (this.#o.apiKey) headers.authorization = `Bearer ${this.#o.apiKey}`;
    await connectWebSocket(url, headers, this.#o.connectTimeoutMs, this.#o.maxPayload, (ws) =>
      this.attach(ws),
    );
    let instructions = this.#o.instructions ?? '';
    if (s.context) instructions = `${instructions}\n\nAbout the caller:\n${contextText(s.context)}`.trim();
    if (s.resumed) instructions = `${instructions}\n\n${resumeNote(s.resumed.transcript)}`.trim();
    const session: Record<string, unknown> = {
      type: 'realtime',
      model: this.#o.model,
      output_modalities: ['audio'],
      audio: {
        input: { format: { type: 'audio/pcmu' }, turn_detection: { type: 'server_vad' } },
        output: { format: { type: 'audio/pcmu' }, voice: this.#o.voice ?? 'alloy' },
      },
    };
    if (instructions) session.instructions = instructions;
    const tools: Record<string, unknown>[] = [];
    if (this.#o.withMemoryTool) {
      tools.push({
        type: 'function',
        name: 'search_memory',
        description: 'Search what is remembered about this caller from earlier calls',
        parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] },
      });
    }
    if (this.#o.transferTargets?.length) {
      tools.push({
        type: 'function',
        name: TRANSFER_TOOL,
        description: TRANSFER_TOOL_DESCRIPTION,
        parameters: transferToolParameters(this.#o.transferTargets),
      });
    }
    if (tools.length) session.tools = tools;
    this.sendJson({ type: 'session.update', session });
    // A handed-off call: the earlier turns as conversation items, and no response.create (no greeting).
    for (const t of s.resumed?.transcript.slice(-50) ?? []) {
      const caller = t.role === 'caller';
      this.sendJson({
        type: 'conversation.item.create',
        item: {
          type: 'message',
          role: caller ? 'user' : 'assistant',
          content: [{ type: caller ? 'input_text' : 'output_text', text: t.text }],
        },
      });
    }
    this.sink.conversationId(`realtime_${s.callSid}`);
  }

  protected onMessage(m: Record<string, unknown>): void {
    switch (m.type) {
      case 'response.output_audio.delta': {
        const delta = asString(m.delta);
        if (delta === undefined) {
          this.sink.protocolError('missing_fields');
          return;
        }
        const item = asString(m.item_id);
        if (item)
          this.#itemMs.set(item, (this.#itemMs.get(item) ?? 0) + Math.floor((delta.length * 3) / 4 / 8));
        if (this.#itemMs.size > 64) this.#itemMs.delete(this.#itemMs.keys().next().value as string);
        this.sink.audio(delta, item, this.receivedAt);
        return;
      }
      case 'input_audio_buffer.speech_started':
        this.sink.interrupted();
        return;
      case 'session.created': {
        const id = asString(asRecord(m.session)?.id);
        if (id) this.sink.conversationId(id);
        return;
      }
      case 'response.output_audio_transcript.done': {
        const t = asString(m.transcript);
        if (t) this.sink.transcript('agent', t);
        return;
      }
      case 'conversation.item.input_audio_transcription.completed': {
        const t = asString(m.transcript);
        if (t) this.sink.transcript('caller', t);
        return;
      }
      case 'response.function_call_arguments.done':
        this.requestTool(m.name, m.call_id, () => {
          try {
            return asRecord(JSON.parse(asString(m.arguments) ?? '{}')) ?? {};
          } catch {
            this.sink.protocolError('invalid_json');
            return {};
          }
        });
        return;
      case 'error':
        this.sink.protocolError('backend_error_event');
        return;
      default:
        return;
    }
  }

  sendAudio(payloadB64: string): boolean {
    return this.sendRaw(`{"type":"input_audio_buffer.append","audio":"${payloadB64}"}`);
  }

  truncate(itemId: string, playedMs: number): void {
    const sent = this.#itemMs.get(itemId);
    if (sent === undefined) return;
    this.sendJson({
      type: 'conversation.item.truncate',
      item_id: itemId,
      content_index: 0,
      audio_end_ms: Math.max(0, Math.min(Math.floor(playedMs), sent)),
    });
  }

  sendDtmf(digit: string): void {
    this.sendJson({
      type: 'conversation.item.create',
      item: {
        type: 'message',
        role: 'user',
        content: [{ type: 'input_text', text: `(The caller pressed ${digit} on the phone keypad.)` }],
      },
    });
    this.sendJson({ type: 'response.create' });
  }

  reprompt(instruction: string): void {
    this.sendJson({ type: 'response.create', response: { instructions: instruction } });
  }

  toolResult(callId: string, result: string, _isError: boolean): void {
    this.sendJson({
      type: 'conversation.item.create',
      item: { type: 'function_call_output', call_id: callId, output: result },
    });
    this.sendJson({ type: 'response.create' });
  }
}
