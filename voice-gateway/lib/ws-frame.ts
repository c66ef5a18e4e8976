// Audio as ready-made WebSocket frames and one socket write (ADR 0020).
// `ws.send(text)` frames a string as a header buffer plus the string, corks the socket, writes both
// and uncorks: two writes through the stream machinery and a `writev` that converts the string in
// C++, for every message. When no masking work is needed (a server's frames, or a client's zero key,
// ws-connect.ts) and the ws sender is idle (no compression, no fragment, nothing queued), the frames
// are built here in one buffer (the same bytes ws would send) and written once: caller audio towards
// a backend, and an agent chunk with its mark towards Twilio.
import type WebSocket from 'ws';

function headBytes(n: number, masked: boolean): number {
  return 2 + (n > 65535 ? 8 : n > 125 ? 2 : 0) + (masked ? 4 : 0);
}

/** Puts one unfragmented text frame (FIN, opcode 1) of ASCII `text` at `at`; returns where it ends. */
function putFrame(buf: Buffer, at: number, text: string, masked: boolean): number {
  const n = text.length;
  const head = headBytes(n, masked);
  const maskBit = masked ? 0x80 : 0;
  buf[at] = 0x81;
  if (n <= 125) buf[at + 1] = maskBit | n;
  else if (n <= 65535) {
    buf[at + 1] = maskBit | 126;
    buf.writeUInt16BE(n, at + 2);
  } else {
    buf[at + 1] = maskBit | 127;
    buf.writeUInt32BE(Math.floor(n / 2 ** 32), at + 2);
    buf.writeUInt32BE(n >>> 0, at + 6);
  }
  if (masked) buf.writeUInt32BE(0, at + head - 4);
  buf.write(text, at + head, 'latin1');
  return at + head + n;
}

/**
 * Unfragmented text frames of ASCII `text` (and `then`, when given, right after it) in one buffer;
 * client frames carry a zero mask key.
 */
export function asciiTextFrame(text: string, masked: boolean, then?: string): Buffer {
  const first = headBytes(text.length, masked) + text.length;
  const size = then === undefined ? first : first + headBytes(then.length, masked) + then.length;
  const buf = Buffer.allocUnsafe(size);
  putFrame(buf, 0, text, masked);
  if (then !== undefined) putFrame(buf, first, then, masked);
  return buf;
}

interface WsInternals {
  _isServer?: boolean;
  _socket?: { write(b: Buffer): boolean; cork(): void; uncork(): void } | null;
  _sender?: { _state?: number; _firstFragment?: boolean; _queue?: unknown[]; _extensions?: object };
}

/**
 * Writes ASCII `text` (then `then`, when given) as text frames in one socket write, when ws's
 * sender is idle and the socket open; false when the caller must use `ws.send` instead. A client
 * `ws` must be zero-masked (ws-connect.ts).
 */
export function writeAsciiFrame(ws: WebSocket, text: string, then?: string): boolean {
  const w = ws as unknown as WsInternals;
  const sender = w._sender;
  const socket = w._socket;
  if (
    ws.readyState !== 1 ||
    !socket ||
    !sender ||
    sender._state !== 0 ||
    sender._firstFragment !== true ||
    sender._queue?.length !== 0 ||
    Object.keys(sender._extensions ?? {}).length !== 0
  )
    return false;
  socket.write(asciiTextFrame(text, w._isServer !== true, then));
  return true;
}

/**
 * Sends ASCII `text` (then `then`) as text frames in one socket write: `writeAsciiFrame` when it can,
 * else `ws.send` of each under one cork. A client `ws` must be zero-masked (ws-connect.ts).
 */
export function sendAsciiFrames(ws: WebSocket, text: string, then?: string): void {
  if (writeAsciiFrame(ws, text, then)) return;
  const socket = (ws as unknown as WsInternals)._socket;
  socket?.cork();
  try {
    ws.send(text);
    if (then !== undefined) ws.send(then);
  } finally {
    socket?.uncork();
  }
}
