// A minimal frame reader for the Twilio media stream socket (issue 23, ADR 0020). Twilio sends
// 50 small text frames a second per call, each unfragmented and masked; `ws`'s Receiver spends more
// on each (a Writable stream write, per-field state machine steps, buffer views, a concat and two
// event emissions) than the gateway spends on the frame itself. After the `ws` handshake this
// reader takes the socket's data: it unmasks each complete FIN text frame in place, exactly as
// `ws` does, and hands the payload to `onText`; a pong becomes the WebSocket's 'pong' event. Any
// other frame (close, ping, binary, fragment, reserved bits, unmasked, a length above `maxPayload`
// or beyond 16 bits) goes, with everything after it, to `ws`'s own Receiver, which then reads the
// socket for good: errors, close codes and the closing handshake stay `ws`'s.
// Reads land in the process's shared read buffer when Node allows it (lib/shared-reads.ts), else
// arrive as 'data' events. Bounded: at most one incomplete frame (≤ maxPayload + 8 bytes, copied) is
// held between reads.
import type { Socket } from 'node:net';
import type WebSocket from 'ws';
import { readIntoSharedBuffer } from '../lib/shared-reads.ts';

type DataListener = (chunk: Buffer) => void;

interface WsInternals {
  _socket?: (NodeJS.EventEmitter & { pause(): void; listeners(e: 'data'): DataListener[] }) | null;
  _receiver?: { write(chunk: Buffer): boolean; _state?: number; _bufferedBytes?: number } | null;
}

const FIN_TEXT = 0x81;
const FIN_PONG = 0x8a;

export class MediaFrameReader {
  readonly #ws: WebSocket;
  readonly #socket: NonNullable<WsInternals['_socket']>;
  readonly #receiver: NonNullable<WsInternals['_receiver']>;
  readonly #wsOnData: DataListener;
  readonly #maxPayload: number;
  readonly #onText: (payload: Buffer) => void;
  readonly #onData: DataListener = (chunk) => this.#read(chunk, chunk.length);
  /** The start of a frame whose bytes have not all arrived yet (a copy). */
  #held: Buffer | undefined;
  #handedOver = false;
  /** Reads arrive in the shared read buffer (valid only during the callback), not as 'data'. */
  readonly sharedReads: boolean;

  private constructor(
    ws: WebSocket,
    internals: Required<{ [K in keyof WsInternals]: NonNullable<WsInternals[K]> }>,
    wsOnData: DataListener,
    maxPayload: number,
    onText: (payload: Buffer) => void,
  ) {
    this.#ws = ws;
    this.#socket = internals._socket;
    this.#receiver = internals._receiver;
    this.#wsOnData = wsOnData;
    this.#maxPayload = maxPayload;
    this.#onText = onText;
    this.#socket.removeListener('data', wsOnData);
    this.sharedReads = readIntoSharedBuffer(this.#socket as unknown as Socket, (n, buf) => {
      if (!this.#handedOver) this.#read(buf, n);
      // ws reads from here on, as 'data' events to its listener (while it listens: it stops after
      // a protocol error; it pauses the socket when its receiver is full).
      else this.#socket.emit('data', Buffer.from(buf.subarray(0, n)));
      return undefined;
    });
    if (!this.sharedReads) this.#socket.on('data', this.#onData);
  }

  /**
   * Takes over the reads of a server-side `ws` WebSocket just opened (before any data was read).
   * Undefined when `ws`'s internals are not as expected (then `ws` reads the socket as before).
   * `onText`'s payload is valid only until it returns (it may sit in the shared read buffer).
   */
  static attach(
    ws: WebSocket,
    maxPayload: number,
    onText: (payload: Buffer) => void,
  ): MediaFrameReader | undefined {
    const w = ws as unknown as WsInternals;
    const socket = w._socket;
    const receiver = w._receiver;
    if (!socket || !receiver || typeof receiver.write !== 'function' || receiver._state !== 0) return;
    if (receiver._bufferedBytes !== 0) return;
    const listeners = socket.listeners('data');
    const wsOnData = listeners[0];
    if (listeners.length !== 1 || wsOnData?.name !== 'socketOnData') return;
    return new MediaFrameReader(ws, { _socket: socket, _receiver: receiver }, wsOnData, maxPayload, onText);
  }

  /** True once a frame outside the fast path handed the socket back to `ws`. */
  get handedOver(): boolean {
    return this.#handedOver;
  }

  /** Reads the frames in `chunk[0, n)`. */
  #read(chunk: Buffer, n0: number): void {
    let buf = chunk;
    let n = n0;
    if (this.#held) {
      buf = Buffer.concat([this.#held, chunk.subarray(0, n0)]);
      n = buf.length;
      this.#held = undefined;
    }
    let at = 0;
    let incomplete = false;
    while (n - at >= 2) {
      const b0 = buf[at] as number;
      const b1 = buf[at + 1] as number;
      let len = b1 & 0x7f;
      let head = 2;
      if ((b0 !== FIN_TEXT && b0 !== FIN_PONG) || (b1 & 0x80) === 0 || len === 127) break;
      if (len === 126) {
        if (n - at < 4) {
          incomplete = true;
          break;
        }
        len = ((buf[at + 2] as number) << 8) | (buf[at + 3] as number);
        head = 4;
      }
      if (len > this.#maxPayload || (b0 === FIN_PONG && len > 125)) break;
      const start = at + head + 4;
      const end = start + len;
      if (end > n) {
        incomplete = true;
        break;
      }
      unmask(buf, start, end, at + head);
      at = end;
      const payload = buf.subarray(start, end);
      // As ws: frames after a close the handler sent are still read (the peer's close follows).
      if (b0 === FIN_TEXT) this.#onText(payload);
      else this.#ws.emit('pong', payload);
    }
    if (at === n) return;
    // The rest is copied: the read buffer is reused. An incomplete frame waits for the next read.
    const rest = Buffer.from(buf.subarray(at, n));
    if (incomplete || rest.length < 2) this.#held = rest;
    else this.#handOver(rest);
  }

  /** `ws` reads from here on, starting with `rest` (which begins at a frame boundary). */
  #handOver(rest: Buffer): void {
    this.#handedOver = true;
    if (!this.sharedReads) this.#socket.removeListener('data', this.#onData);
    this.#socket.on('data', this.#wsOnData);
    if (!this.#receiver.write(rest)) this.#socket.pause();
  }
}

/** XORs `buf[start..end)` with the 4-byte mask at `maskAt` (RFC 6455 §5.3), in place. */
function unmask(buf: Buffer, start: number, end: number, maskAt: number): void {
  const m0 = buf[maskAt] as number;
  const m1 = buf[maskAt + 1] as number;
  const m2 = buf[maskAt + 2] as number;
  const m3 = buf[maskAt + 3] as number;
  let i = start;
  for (const stop = end - 3; i < stop; i += 4) {
    buf[i] = (buf[i] as number) ^ m0;
    buf[i + 1] = (buf[i + 1] as number) ^ m1;
    buf[i + 2] = (buf[i + 2] as number) ^ m2;
    buf[i + 3] = (buf[i + 3] as number) ^ m3;
  }
  if (i < end) buf[i] = (buf[i] as number) ^ m0;
  if (++i < end) buf[i] = (buf[i] as number) ^ m1;
  if (++i < end) buf[i] = (buf[i] as number) ^ m2;
}
