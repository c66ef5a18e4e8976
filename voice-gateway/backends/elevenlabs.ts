// ElevenLabs Agents over WebSocket (see test/fixtures/elevenlabs-agents.json).

import { decodeMulaw, encodeMulaw } from '../audio/mulaw.ts';
import { pcm16FromBytes, pcm16ToBytes, resample } from '../audio/resample.ts';
import { asRecord, asString } from '../lib/json-shape.ts';
import { contextVariables, resumeNote, transcriptText } from './context.ts';
import type { AgentBackend, BackendSink, BackendStart } from './types.ts';
import { WsBackend, type WsBackendOptions } from './ws-backend.ts';
import { connectWebSocket, toWsBase } from './ws-connect.ts';

export interface ElevenLabsOptions extends WsBackendOptions {
  agentId: string;
  baseUrl: string;
  apiKey: string | undefined;
}

function pcmRate(format: string): number | null {
  if (format === 'ulaw_8000') return null;
  const m = /^pcm_(\d+)$/.exec(format);
  if (!m) throw new Error(`unsupported ElevenLabs audio format ${format}`);
  return Number(m[1]);
}

export class ElevenLabsBackend extends WsBackend implements AgentBackend {
  readonly provider = 'elevenlabs' as const;
  readonly #o: ElevenLabsOptions;
  #inRate: number | null = null;
  #outRate: number | null = null;
  #interruptedUpTo = -1;
  #ready: ((err?: Error) => void) | undefined;

  constructor(sink: BackendSink, o: ElevenLabsOptions) {
    super(sink, o);
    this.#o = o;
  }

  async #signedUrl(): Promise<string> {
    const base = this.#o.baseUrl.replace(/^ws/, 'http').replace(/\/+$/, '');
    const res = await fetch(
      `${base}/v1/convai/conversation/get-signed-url?agent_id=${encodeURIComponent(this.#o.agentId)}`,
      {
        headers: { 'xi-api-key': this.#o.apiKey ?? '' },
        signal: AbortSignal.timeout(this.#o.connectTimeoutMs),
      },
    );
    if (!res.ok) throw new Error(`ElevenLabs get-signed-url answered HTTP ${res.status}`);
    const body = (await res.json()) as { signed_url?: unknown };
    if (typeof body.signed_url !== 'string') throw new Error('ElevenLabs get-signed-url: no signed_url');
    return body.signed_url;
  }

  async start(s: BackendStart): Promise<void> {
    const url = this.#o.apiKey
      ? await this.#signedUrl()
      : `${toWsBase(this.#o.baseUrl)}/v1/convai/conversation?agent_id=${encodeURIComponent(this.#o.agentId)}`;
    await connectWebSocket(url, {}, this.#o.connectTimeoutMs, this.#o.maxPayload, (ws) => this.attach(ws));
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => this.#ready?.(new Error('no conversation_initiation_metadata')),
        this.#o.connectTimeoutMs,
      );
      this.#ready = (err) => {
        clearTimeout(timer);
        this.#ready = undefined;
        if (err) reject(err);
        else resolve();
      };
    });
    const init: Record<string, unknown> = { type: 'conversation_initiation_client_data' };
    const vars: Record<string, string | number | boolean> = { call_sid: s.callSid };
    if (s.context) Object.assign(vars, contextVariables(s.context));
    if (s.resumed) {
      // A handed-off call: no first message (the agent waits for the caller), the transcript so far as a
      // dynamic variable and, once the conversation is up, as a contextual update the agent reads.
      // The agent's security settings must allow the first_message override.
      vars.call_resumed = true;
      vars.previous_transcript = transcriptText(s.resumed.transcript);
      init.conversation_config_override = { agent: { first_message: '' } };
    }
    init.dynamic_variables = vars;
    this.sendJson(init);
    await ready;
    if (s.resumed) this.sendJson({ type: 'contextual_update', text: resumeNote(s.resumed.transcript) });
  }

  protected override fail(err: Error): void {
    this.#ready?.(err);
    super.fail(err);
  }

  protected onMessage(m: Record<string, unknown>): void {
    switch (m.type) {
      case 'audio': {
        const ev = asRecord(m.audio_event);
        const audio = asString(ev?.audio_base_64);
        if (!ev || audio === undefined) {
          this.sink.protocolError('missing_fields');
          return;
        }
        const id = Number(ev.event_id);
        if (Number.isFinite(id) && id <= this.#interruptedUpTo) {
          this.sink.audioDropped();
          return;
        }
        const out = this.#outRate === null ? audio : this.#toMulaw(audio, this.#outRate);
        this.sink.audio(out, Number.isFinite(id) ? `el_${id}` : undefined, this.receivedAt);
        return;
      }
      case 'ping': {
        const ev = asRecord(m.ping_event);
        this.sendJson({ type: 'pong', event_id: ev?.event_id });
        return;
      }
      case 'interruption': {
        const id = Number(asRecord(m.interruption_event)?.event_id);
        if (Number.isFinite(id) && id > this.#interruptedUpTo) this.#interruptedUpTo = id;
        this.sink.interrupted();
        return;
      }
      case 'conversation_initiation_metadata': {
        const ev = asRecord(m.conversation_initiation_metadata_event);
        try {
          this.#outRate = pcmRate(asString(ev?.agent_output_audio_format) ?? 'ulaw_8000');
          this.#inRate = pcmRate(asString(ev?.user_input_audio_format) ?? 'ulaw_8000');
        } catch (err) {
          this.fail(err as Error);
          return;
        }
        const id = asString(ev?.conversation_id);
        if (id) this.sink.conversationId(id);
        this.#ready?.();
        return;
      }
      case 'agent_response': {
        const t = asString(asRecord(m.agent_response_event)?.agent_response);
        if (t) this.sink.transcript('agent', t);
        return;
      }
      case 'user_transcript': {
        const t = asString(asRecord(m.user_transcription_event)?.user_transcript);
        if (t) this.sink.transcript('caller', t);
        return;
      }
      case 'client_tool_call': {
        const c = asRecord(m.client_tool_call);
        const name = asString(c?.tool_name);
        const id = asString(c?.tool_call_id);
        if (!name || !id) {
          this.sink.protocolError('missing_fields');
          return;
        }
        this.sink.toolCall(name, id, asRecord(c?.parameters) ?? {});
        return;
      }
      default:
        return; // vad_score, agent_response_correction, internal events: nothing to do
    }
  }

  #toMulaw(b64: string, rate: number): string {
    return encodeMulaw(resample(pcm16FromBytes(Buffer.from(b64, 'base64')), rate, 8000)).toString('base64');
  }

  sendAudio(payloadB64: string): boolean {
    if (this.#inRate === null) return this.sendRaw(`{"user_audio_chunk":"${payloadB64}"}`);
    const pcm = resample(decodeMulaw(Buffer.from(payloadB64, 'base64')), 8000, this.#inRate);
    return this.sendRaw(`{"user_audio_chunk":"${pcm16ToBytes(pcm).toString('base64')}"}`);
  }

  sendDtmf(digit: string): void {
    this.sendJson({ type: 'contextual_update', text: `The caller pressed ${digit} on the phone keypad.` });
  }

  toolResult(callId: string, result: string, isError: boolean): void {
    this.sendJson({ type: 'client_tool_result', tool_call_id: callId, result, is_error: isError });
  }

  /** A text turn makes the agent answer (a contextual_update would not): the instruction in brackets. */
  reprompt(instruction: string): void {
    this.sendJson({ type: 'user_message', text: `[${instruction}]` });
  }
}
