// Lifecycle shared by the WebSocket backends: one connection, `failed` reported once, backpressure.
import type WebSocket from 'ws';
import { asString } from '../lib/json-shape.ts';
import { sendAsciiFrames } from '../lib/ws-frame.ts';
import type { BackendSink } from './types.ts';
import { isZeroMasked } from './ws-connect.ts';

export interface WsBackendOptions {
  connectTimeoutMs: number;
  maxPayload: number;
  /** Caller audio is dropped while more than this many bytes wait in the socket. */
  maxBufferedBytes: number;
}

export abstract class WsBackend {
  protected readonly sink: BackendSink;
  protected readonly opts: WsBackendOptions;
  protected ws: WebSocket | undefined;
  /** `performance.now()` when the message being handled arrived (for the relay latency metric). */
  protected receivedAt = 0;
  #closed = false;
  /** Frames need no masking work: audio goes out as one ready-made frame (ws-frame.ts). */
  #direct = false;

  constructor(sink: BackendSink, opts: WsBackendOptions) {
    this.sink = sink;
    this.opts = opts;
  }

  protected attach(ws: WebSocket): void {
    this.ws = ws;
    this.#direct = isZeroMasked(ws);
    ws.on('message', (data, isBinary) => {
      this.receivedAt = performance.now();
      if (this.#closed) return;
      if (isBinary) {
        this.sink.protocolError('binary');
        return;
      }
      if (this.onFrame(data as Buffer)) return;
      let msg: unknown;
      try {
        msg = JSON.parse(data.toString());
      } catch {
        this.sink.protocolError('invalid_json');
        return;
      }
      if (typeof msg !== 'object' || msg === null) {
        this.sink.protocolError('invalid_json');
        return;
      }
      this.onMessage(msg as Record<string, unknown>);
    });
    ws.on('close', (code) => this.fail(new Error(`backend closed the connection (code ${code})`)));
    ws.on('error', (err) => this.fail(err));
  }

  protected abstract onMessage(msg: Record<string, unknown>): void;

  /** Epoch ms of the last message received (0: none yet): stall detection reads it. */
  get lastEventAt(): number {
    return this.receivedAt ? performance.timeOrigin + this.receivedAt : 0;
  }

  /** Fast path for a text frame before `JSON.parse`; true when it handled the frame. */
  protected onFrame(_frame: Buffer): boolean {
    return false;
  }

  /**
   * The backend asked for a tool: the call needs a name and an id (else a protocol error); `params`
   * reads the arguments only then.
   */
  protected requestTool(name: unknown, id: unknown, params: () => Record<string, unknown>): void {
    const toolName = asString(name);
    const callId = asString(id);
    if (!toolName || !callId) {
      this.sink.protocolError('missing_fields');
      return;
    }
    this.sink.toolCall(toolName, callId, params());
  }

  protected fail(err: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.ws?.terminate();
    this.sink.failed(err);
  }

  protected get open(): boolean {
    return !this.#closed && this.ws !== undefined && this.ws.readyState === 1;
  }

  /** Sends ASCII `text` (caller audio: JSON around base64) as a text frame unless the socket is backed up. */
  protected sendRaw(text: string): boolean {
    const ws = this.ws;
    if (this.#closed || !ws || ws.readyState !== 1) return false;
    if (ws.bufferedAmount > this.opts.maxBufferedBytes) return false;
    if (this.#direct) sendAsciiFrames(ws, text);
    else ws.send(text);
    return true;
  }

  protected sendJson(msg: unknown): boolean {
    const ws = this.ws;
    if (this.#closed || !ws || ws.readyState !== 1) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const ws = this.ws;
    if (!ws) return;
    ws.removeAllListeners('close');
    ws.on('error', () => {});
    if (ws.readyState === 1) ws.close(1000, 'call ended');
    else ws.terminate();
    setTimeout(() => ws.terminate(), 2000).unref();
  }
}
