// The websocket backend's audio fast path must agree with the JSON.parse path whenever it answers.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { scanAudio } from '../../../voice-gateway/backends/websocket-scan.ts';
import { isBase64 } from '../../../voice-gateway/twilio/media-protocol.ts';

const AUDIO = Buffer.alloc(1600, 0x7f).toString('base64');

/** What WebSocketBackend's JSON path hands to sink.audio, or undefined when it does not. */
function viaJson(buf: Buffer): { audio: string; itemId: string | undefined } | undefined {
  let m: unknown;
  try {
    m = JSON.parse(buf.toString());
  } catch {
    return undefined;
  }
  if (typeof m !== 'object' || m === null) return undefined;
  const r = m as Record<string, unknown>;
  if (r.type !== 'audio' || typeof r.audio !== 'string' || !isBase64(r.audio)) return undefined;
  return { audio: r.audio, itemId: typeof r.itemId === 'string' ? r.itemId : undefined };
}

function agrees(input: string | Buffer): void {
  const buf = typeof input === 'string' ? Buffer.from(input) : input;
  const fast = scanAudio(buf);
  if (fast !== undefined) assert.deepEqual(fast, viaJson(buf), `input: ${buf.toString('latin1')}`);
}

describe('websocket backend audio fast path (scanAudio)', () => {
  it('reads the documented audio messages, with and without itemId', () => {
    for (const audio of [AUDIO, '', 'AA==', randomBytes(333).toString('base64')]) {
      for (const tail of ['', ',"itemId":"i0"', ',"itemId":""', ',"itemId":"resp_1 a-b"']) {
        const text = `{"type":"audio","audio":"${audio}"${tail}}`;
        const fast = scanAudio(Buffer.from(text));
        assert.ok(fast, text.slice(0, 60));
        assert.deepEqual(fast, viaJson(Buffer.from(text)));
      }
    }
  });

  it('leaves other shapes and malformed frames to JSON.parse', () => {
    for (const text of [
      `{"type":"audio","itemId":"i0","audio":"${AUDIO}"}`,
      `{ "type":"audio","audio":"${AUDIO}"}`,
      `{"type":"audio","audio":"${AUDIO}","itemId":7}`,
      `{"type":"audio","audio":"${AUDIO}","itemId":"a\\"b"}`,
      `{"type":"audio","audio":"${AUDIO}","itemId":"i0","extra":1}`,
      `{"type":"audio","audio":"${AUDIO}"} `,
      `{"type":"audio","audio":"AA\\u003d="}`,
      '{"type":"audio","audio":"not base64"}',
      '{"type":"audio","audio":"',
      '{"type":"clear"}',
    ]) {
      assert.equal(scanAudio(Buffer.from(text)), undefined, text.slice(0, 60));
    }
  });

  it('every truncation and single-byte change agrees with JSON.parse', () => {
    const base = Buffer.from(`{"type":"audio","audio":"${AUDIO.slice(0, 12)}","itemId":"i0"}`);
    const bytes = [0x00, 0x20, 0x22, 0x2c, 0x3d, 0x41, 0x5c, 0x7d, 0xc3, 0xff];
    for (let i = 0; i <= base.length; i++) {
      agrees(base.subarray(0, i));
      if (i === base.length) continue;
      agrees(Buffer.concat([base.subarray(0, i), base.subarray(i + 1)]));
      for (const b of bytes) {
        const changed = Buffer.from(base);
        changed[i] = b;
        agrees(changed);
        agrees(Buffer.concat([base.subarray(0, i), Buffer.from([b]), base.subarray(i)]));
      }
    }
    for (let i = 0; i < 2000; i++) {
      const at = i % base.length;
      agrees(Buffer.concat([base.subarray(0, at), randomBytes(1 + (i % 5)), base.subarray(at + (i % 3))]));
    }
  });
});
