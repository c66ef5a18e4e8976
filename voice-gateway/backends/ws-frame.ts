// Caller audio to a backend as one ready-made WebSocket frame and one socket write (ADR 0020).
// `ws.send(text)` frames a string as a header buffer plus the string, corks the socket, writes both
// and uncorks: two writes through the stream machinery and a `writev` that converts the string in
// C++, for every chunk of caller audio. When the client frame needs no masking work (a zero key,
// ws-connect.ts) and the ws sender is idle (no compression, no fragment, nothing queued), the
// frame is built here in one buffer (the same bytes ws would send) and written once.
import type WebSocket from 'ws';

/** An unfragmented text frame (FIN, opcode 1) of ASCII `text`; client frames carry a zero mask key. */
export function asciiTextFrame(text: string, masked: boolean): Buffer {
  const n = text.length;
  const ext = n > 65535 ? 8 : n > 125 ? 2 : 0;
  const head = 2 + ext + (masked ? 4 : 0);
  const buf = Buffer.allocUnsafe(head + n);
  buf[0] = 0x81;
  const maskBit = masked ? 0x80 : 0;
  if (ext === 0) buf[1] = maskBit | n;
  else if (ext === 2) {
    buf[1] = maskBit | 126;
    buf.writeUInt16BE(n, 2);
  } else {
    buf[1] = maskBit | 127;
    buf.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    buf.writeUInt32BE(n >>> 0, 6);
  }
  if (masked) buf.writeUInt32BE(0, head - 4);
  buf.write(text, head, 'latin1');
  return buf;
}

interface WsInternals {
  _socket?: { write(b: Buffer): boolean } | null;
  _sender?: { _state?: number; _firstFragment?: boolean; _queue?: unknown[]; _extensions?: object };
}

/**
 * Writes ASCII `text` as one text frame straight to the socket of a zero-masked client `ws`, when
 * ws's sender is idle; false when the caller must use `ws.send` instead.
 */
export function writeAsciiFrame(ws: WebSocket, text: string): boolean {
  const w = ws as unknown as WsInternals;
  const sender = w._sender;
  const socket = w._socket;
  if (
    !socket ||
    !sender ||
    sender._state !== 0 ||
    sender._firstFragment !== true ||
    sender._queue?.length !== 0 ||
    Object.keys(sender._extensions ?? {}).length !== 0
  )
    return false;
  socket.write(asciiTextFrame(text, true));
  return true;
}
