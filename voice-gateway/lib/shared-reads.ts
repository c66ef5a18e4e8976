// Reads of a socket into one buffer shared by the whole process (issue 23). Node reads a socket into a
// buffer it allocates for that read (64 KiB asked of malloc, shrunk to the bytes read, wrapped in an
// ArrayBuffer and a Buffer, later freed by the GC), then pushes it through the socket's Readable
// stream and a 'data' event. At 50 reads a second per call that is most of what Node adds to a read.
// Node's own `onread` option (documented for `net.connect`) reads into a buffer the caller gives and
// calls back with the byte count, skipping all of it; an accepted socket carries the same fields and
// takes it the same way. Reads are handed over one at a time on the main thread, so one buffer serves
// every socket: the callback must be done with the bytes when it returns (copy what it keeps).
import type { Socket } from 'node:net';

/** Node's default read size. */
const READ_BUFFER_BYTES = 64 * 1024;
let shared: Buffer | undefined;

/**
 * Called with each read (Node's order): the bytes are `buf[0, n)`, valid only until it returns.
 * Returning false stops reading until the socket is resumed (`socket.resume()`).
 */
export type SharedReadCallback = (n: number, buf: Buffer) => boolean | undefined;

interface NodeSocketInternals {
  encrypted?: boolean;
  _handle?: { useUserBuffer?(buf: Uint8Array): void } | null;
}

function symbolNamed(o: object, description: string): symbol | undefined {
  return Object.getOwnPropertySymbols(o).find((s) => s.description === description);
}

/**
 * From now on `socket`'s reads go into the shared buffer and to `onRead` only (no 'data' events; 'end',
 * 'close' and errors as before). False, and nothing changed, when this Node's socket is not as
 * expected or already holds unread bytes (then reads stay as they were).
 */
export function readIntoSharedBuffer(socket: Socket, onRead: SharedReadCallback): boolean {
  const s = socket as Socket & NodeSocketInternals & Record<symbol, unknown>;
  const kBuffer = symbolNamed(s, 'kBuffer');
  const kBufferCb = symbolNamed(s, 'kBufferCb');
  const handle = s._handle;
  if (
    s.encrypted ||
    s.readableLength > 0 || // bytes already in the stream (an upgrade's head) would never reach onRead
    !kBuffer ||
    !kBufferCb ||
    s[kBuffer] !== null ||
    typeof handle?.useUserBuffer !== 'function'
  )
    return false;
  shared ??= Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
  s[kBuffer] = shared;
  s[kBufferCb] = onRead;
  handle.useUserBuffer(shared);
  return true;
}
