// Fast path for agent audio on the `websocket` backend (docs/websocket-backend.md), the backend's
// most frequent and largest message. Read from the frame's bytes, without `JSON.parse`, when it is
// exactly `{"type":"audio","audio":"B"}` or `{"type":"audio","audio":"B","itemId":"S"}` (B: base64,
// S: printable ASCII without `"` or `\`); anything else goes through `JSON.parse` as before.
import { ascii, base64, endsWithBrace, literal, plain } from '../json-scan.ts';

const HEAD = Buffer.from('{"type":"audio","audio":"');
const ITEM_ID = Buffer.from('","itemId":"');

export interface ScannedAudio {
  audio: string;
  itemId: string | undefined;
}

export function scanAudio(buf: Buffer): ScannedAudio | undefined {
  const audioAt = literal(buf, 0, HEAD);
  const audioEnd = base64(buf, audioAt);
  if (audioEnd < 0) return undefined;
  let itemId: string | undefined;
  if (!endsWithBrace(buf, audioEnd + 1)) {
    const idAt = literal(buf, audioEnd, ITEM_ID);
    const idEnd = plain(buf, idAt);
    if (idEnd < 0 || !endsWithBrace(buf, idEnd + 1)) return undefined;
    itemId = ascii(buf, idAt, idEnd);
  }
  return { audio: ascii(buf, audioAt, audioEnd), itemId };
}
