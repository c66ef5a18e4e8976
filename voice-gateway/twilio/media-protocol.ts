// Twilio Media Streams wire format. Inbound messages are parsed once; outbound messages are built
// by string concatenation so an untouched base64 payload is never re-serialised.
import { isRecord } from '../lib/json-shape.ts';

export interface InboundStart {
  streamSid: string;
  callSid: string;
  accountSid: string;
  customParameters: Record<string, string>;
}

export type InboundMessage =
  | { event: 'connected' }
  | { event: 'start'; start: InboundStart }
  | { event: 'media'; streamSid: string; payload: string; track: string | undefined }
  | { event: 'dtmf'; streamSid: string; digit: string }
  | { event: 'mark'; streamSid: string; name: string }
  | { event: 'stop'; streamSid: string };

export type ParseFailure = { error: 'invalid_json' | 'unknown_event' | 'missing_fields' };

export function parseInbound(text: string): InboundMessage | ParseFailure {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return { error: 'invalid_json' };
  }
  if (!isRecord(m)) return { error: 'invalid_json' };
  const streamSid = m.streamSid;
  switch (m.event) {
    case 'media': {
      const media = m.media;
      if (typeof streamSid !== 'string' || !isRecord(media) || typeof media.payload !== 'string') {
        return { error: 'missing_fields' };
      }
      return {
        event: 'media',
        streamSid,
        payload: media.payload,
        track: typeof media.track === 'string' ? media.track : undefined,
      };
    }
    case 'mark': {
      const mark = m.mark;
      if (typeof streamSid !== 'string' || !isRecord(mark) || typeof mark.name !== 'string') {
        return { error: 'missing_fields' };
      }
      return { event: 'mark', streamSid, name: mark.name };
    }
    case 'dtmf': {
      const dtmf = m.dtmf;
      if (typeof streamSid !== 'string' || !isRecord(dtmf) || typeof dtmf.digit !== 'string') {
        return { error: 'missing_fields' };
      }
      return { event: 'dtmf', streamSid, digit: dtmf.digit };
    }
    case 'start': {
      const s = m.start;
      if (!isRecord(s) || typeof s.streamSid !== 'string' || typeof s.callSid !== 'string') {
        return { error: 'missing_fields' };
      }
      const cp: Record<string, string> = {};
      if (isRecord(s.customParameters)) {
        for (const [k, v] of Object.entries(s.customParameters)) if (typeof v === 'string') cp[k] = v;
      }
      return {
        event: 'start',
        start: {
          streamSid: s.streamSid,
          callSid: s.callSid,
          accountSid: typeof s.accountSid === 'string' ? s.accountSid : '',
          customParameters: cp,
        },
      };
    }
    case 'stop':
      if (typeof streamSid !== 'string') return { error: 'missing_fields' };
      return { event: 'stop', streamSid };
    case 'connected':
      return { event: 'connected' };
    default:
      return { error: 'unknown_event' };
  }
}

/** Outbound builders; streamSid and mark names are ours (no characters needing JSON escapes). */
export function mediaMessage(streamSid: string, payloadB64: string): string {
  return `{"event":"media","streamSid":"${streamSid}","media":{"payload":"${payloadB64}"}}`;
}

export function markMessage(streamSid: string, name: string): string {
  return `{"event":"mark","streamSid":"${streamSid}","mark":{"name":"${name}"}}`;
}

export function clearMessage(streamSid: string): string {
  return `{"event":"clear","streamSid":"${streamSid}"}`;
}

/** Base64 alphabet only: what may be spliced into a JSON string without escaping. */
export function isBase64(s: string): boolean {
  return /^[A-Za-z0-9+/]*={0,2}$/.test(s);
}
