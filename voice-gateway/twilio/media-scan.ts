// Fast path for the one message that arrives 50 times a second per call: Twilio's `media` (and the
// `mark` echoed after every agent chunk, below). It is
// read straight from the frame's bytes, without decoding the frame to a string or `JSON.parse`, when
// the frame has exactly the shape Twilio sends:
//   {"event":"media","sequenceNumber":"D","media":{"track":"S","chunk":"D","timestamp":"D","payload":"B"},"streamSid":"S"}
// (D: ASCII digits, S: printable ASCII without `"` or `\`, B: base64). Such a frame has no escapes,
// whitespace or non-ASCII bytes, so the bytes between the quotes are exactly the strings `JSON.parse`
// would produce. Anything else, valid or not, goes through `parseInbound`, which decides as before.
import { ascii, asciiReusing, base64, digits, endsWithBrace, literal, plain } from '../json-scan.ts';
import { type InboundMessage, type ParseFailure, parseInbound } from './media-protocol.ts';

const HEAD = Buffer.from('{"event":"media","sequenceNumber":"');
const TRACK = Buffer.from('","media":{"track":"');
const CHUNK = Buffer.from('","chunk":"');
const TIMESTAMP = Buffer.from('","timestamp":"');
const PAYLOAD = Buffer.from('","payload":"');
const STREAM_SID = Buffer.from('"},"streamSid":"');

const INBOUND = 'inbound';

/**
 * The fast-path media message, or undefined when `buf` is not exactly Twilio's media shape.
 * `streamSid`: the stream's sid when known; a frame carrying it gets that very string back (no copy).
 */
export function scanMedia(
  buf: Buffer,
  streamSid?: string,
): Extract<InboundMessage, { event: 'media' }> | undefined {
  const seqEnd = digits(buf, literal(buf, 0, HEAD));
  const trackAt = literal(buf, seqEnd, TRACK);
  const trackEnd = plain(buf, trackAt);
  const chunkEnd = digits(buf, literal(buf, trackEnd, CHUNK));
  const tsEnd = digits(buf, literal(buf, chunkEnd, TIMESTAMP));
  const payloadAt = literal(buf, tsEnd, PAYLOAD);
  if (payloadAt < 0) return undefined;
  // Base64 only (which also rules out escapes and non-ASCII); anything else takes the slow path.
  const payloadEnd = base64(buf, payloadAt);
  const sidAt = literal(buf, payloadEnd, STREAM_SID);
  const sidEnd = plain(buf, sidAt);
  if (sidEnd < 0 || !endsWithBrace(buf, sidEnd + 1)) return undefined;
  return {
    event: 'media',
    streamSid: asciiReusing(buf, sidAt, sidEnd, streamSid),
    payload: ascii(buf, payloadAt, payloadEnd),
    track: asciiReusing(buf, trackAt, trackEnd, INBOUND),
  };
}

const MARK_HEAD = Buffer.from('{"event":"mark","sequenceNumber":"');
const MARK_SID = Buffer.from('","streamSid":"');
const MARK_NAME = Buffer.from('","mark":{"name":"');

/**
 * The mark Twilio echoes after each agent chunk has played (one per chunk sent), read the same way
 * when it has exactly Twilio's shape:
 *   {"event":"mark","sequenceNumber":"D","streamSid":"S","mark":{"name":"S"}}
 */
export function scanMark(
  buf: Buffer,
  streamSid?: string,
): Extract<InboundMessage, { event: 'mark' }> | undefined {
  const sidAt = literal(buf, digits(buf, literal(buf, 0, MARK_HEAD)), MARK_SID);
  const sidEnd = plain(buf, sidAt);
  const nameAt = literal(buf, sidEnd, MARK_NAME);
  const nameEnd = plain(buf, nameAt);
  // `"}}` closes the name, the mark object and the message.
  if (nameEnd < 0 || buf[nameEnd + 1] !== 125 || !endsWithBrace(buf, nameEnd + 2)) return undefined;
  return {
    event: 'mark',
    streamSid: asciiReusing(buf, sidAt, sidEnd, streamSid),
    name: ascii(buf, nameAt, nameEnd),
  };
}

/** `parseInbound` for a received frame, with the media and mark fast paths. */
export function parseInboundFrame(buf: Buffer): InboundMessage | ParseFailure {
  return scanMedia(buf) ?? scanMark(buf) ?? parseInbound(buf.toString());
}
