// The media fast path must give exactly what `JSON.parse` (parseInbound) gives, for every input.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseInbound } from '../../../voice-gateway/twilio/media-protocol.ts';
import { parseInboundFrame, scanMark, scanMedia } from '../../../voice-gateway/twilio/media-scan.ts';

const fixture = JSON.parse(
  readFileSync(new URL('../../fixtures/twilio-media-streams.json', import.meta.url), 'utf8'),
) as { inbound: Record<string, Record<string, unknown>> };

const PAYLOAD = Buffer.alloc(160, 0xff).toString('base64');
const SID = 'MZ00000000000000000000000000000000';
const twilioMedia = (payload = PAYLOAD, sid = SID) =>
  `{"event":"media","sequenceNumber":"2","media":{"track":"inbound","chunk":"1","timestamp":"5","payload":"${payload}"},"streamSid":"${sid}"}`;

function same(input: string | Buffer): void {
  const buf = typeof input === 'string' ? Buffer.from(input) : input;
  const slow = parseInbound(buf.toString());
  assert.deepEqual(parseInboundFrame(buf), slow, `input: ${buf.toString('latin1')}`);
  // With the stream's sid known (what a started session passes), the answer is the same.
  assert.deepEqual(scanMedia(buf, SID) ?? slow, slow, `input (sid known): ${buf.toString('latin1')}`);
  assert.deepEqual(scanMark(buf, SID) ?? slow, slow, `input (mark, sid known): ${buf.toString('latin1')}`);
}

const twilioMark = (name = '17', sid = SID) =>
  `{"event":"mark","sequenceNumber":"4","streamSid":"${sid}","mark":{"name":"${name}"}}`;

describe('media fast path (scanMedia)', () => {
  it('takes the fast path for Twilio media frames, with the same result as JSON.parse', () => {
    for (const payload of [PAYLOAD, '', 'AAAA', 'AA==', randomBytes(1600).toString('base64')]) {
      for (const sid of [SID, 'MZ', '3f2a9c1e-0b7d-4c55-9d1e-1a2b3c4d5e6f', 'a b!#$%&()*']) {
        const text = twilioMedia(payload, sid);
        assert.ok(scanMedia(Buffer.from(text)), `fast path: ${text.slice(0, 80)}`);
        same(text);
      }
    }
  });

  it('with the known sid passed in, reads that sid and any other sid exactly', () => {
    const known = `MZ${'0'.repeat(32)}`;
    const m = scanMedia(Buffer.from(twilioMedia(PAYLOAD, SID)), known);
    assert.ok(m);
    assert.equal(m.streamSid, SID);
    assert.equal(m.track, 'inbound');
    assert.equal(scanMedia(Buffer.from(twilioMedia(PAYLOAD, 'MZ1')), known)?.streamSid, 'MZ1');
    assert.equal(
      scanMedia(Buffer.from(twilioMedia(PAYLOAD, `${SID.slice(0, -1)}1`)), known)?.streamSid,
      `${SID.slice(0, -1)}1`,
    );
  });

  it('gives the same result as JSON.parse for every fixture message', () => {
    for (const [name, msg] of Object.entries(fixture.inbound)) {
      const text = JSON.stringify(msg);
      same(text);
      same(text.replace('<base64 of 160 bytes mu-law>', PAYLOAD));
      if (name === 'media') {
        const real = JSON.stringify({ ...msg, media: { ...(msg.media as object), payload: PAYLOAD } });
        assert.ok(scanMedia(Buffer.from(real)), 'the fixture media message takes the fast path');
        assert.deepEqual(scanMedia(Buffer.from(real)), parseInbound(real));
      }
    }
  });

  it('falls back for other shapes, escapes, whitespace and malformed frames, with the same result', () => {
    const cases = [
      twilioMedia().replace('{"event"', '{ "event"'),
      twilioMedia().replace('"chunk":"1"', '"chunk":1'),
      twilioMedia().replace(',"timestamp":"5"', ''),
      twilioMedia().replace('"streamSid"', '"streamSid":"x","streamSid"'),
      twilioMedia(`${PAYLOAD.slice(0, 10)}\\u0041${PAYLOAD.slice(10)}`),
      twilioMedia(`${PAYLOAD.slice(0, 10)}\\"`),
      twilioMedia('not base64!'),
      twilioMedia('AA=A'),
      twilioMedia(PAYLOAD, 'MZ\\u0030'),
      twilioMedia(PAYLOAD, 'MZé'),
      `${twilioMedia()} `,
      `${twilioMedia()}}`,
      `${twilioMedia()}x`,
      twilioMedia().replace('"media","seq', '"media" ,"seq'),
      `{"event":"media","streamSid":"${SID}","media":{"payload":"${PAYLOAD}"}}`,
      `{"event":"media","streamSid":"${SID}","media":{}}`,
      '{"event":"media","streamSid":',
      '[1,2,3]',
      '',
    ];
    for (const c of cases) same(c);
    same(
      Buffer.concat([Buffer.from(twilioMedia().slice(0, -3)), Buffer.from([0xc3, 0xa9]), Buffer.from('"}')]),
    );
  });

  it('every truncation and single-byte change of a media frame matches JSON.parse', () => {
    const text = twilioMedia(PAYLOAD.slice(0, 12));
    const base = Buffer.from(text);
    const bytes = [0x00, 0x09, 0x20, 0x22, 0x2c, 0x30, 0x3d, 0x41, 0x5c, 0x7b, 0x7d, 0x7f, 0xc3, 0xff];
    for (let i = 0; i <= base.length; i++) {
      same(base.subarray(0, i));
      if (i === base.length) continue;
      same(Buffer.concat([base.subarray(0, i), base.subarray(i + 1)]));
      for (const b of bytes) {
        const changed = Buffer.from(base);
        changed[i] = b;
        same(changed);
        same(Buffer.concat([base.subarray(0, i), Buffer.from([b]), base.subarray(i)]));
      }
    }
  });

  it('reads Twilio mark echoes without JSON.parse, and every change of one matches JSON.parse', () => {
    for (const name of ['1', '', 'my label', '1024', 'a b!#$%&()*']) {
      const text = twilioMark(name);
      assert.deepEqual(scanMark(Buffer.from(text)), { event: 'mark', streamSid: SID, name });
      same(text);
    }
    same(JSON.stringify(fixture.inbound.mark));
    assert.ok(
      scanMark(Buffer.from(JSON.stringify(fixture.inbound.mark))),
      'the fixture mark takes the fast path',
    );
    for (const c of [
      twilioMark('x\\"y'),
      twilioMark('\u0041'),
      twilioMark().replace('"mark":{', '"mark": {'),
      twilioMark().replace('}}', '},"x":1}'),
      `${twilioMark()} `,
      twilioMark().replace('"sequenceNumber":"4",', ''),
    ])
      same(c);
    const base = Buffer.from(twilioMark('12'));
    const bytes = [0x00, 0x09, 0x20, 0x22, 0x2c, 0x30, 0x5c, 0x7b, 0x7d, 0x7f, 0xc3, 0xff];
    for (let i = 0; i <= base.length; i++) {
      same(base.subarray(0, i));
      if (i === base.length) continue;
      same(Buffer.concat([base.subarray(0, i), base.subarray(i + 1)]));
      for (const b of bytes) {
        const changed = Buffer.from(base);
        changed[i] = b;
        same(changed);
        same(Buffer.concat([base.subarray(0, i), Buffer.from([b]), base.subarray(i)]));
      }
    }
  });

  it('random garbage matches JSON.parse', () => {
    for (let i = 0; i < 2000; i++) {
      const base = Buffer.from(twilioMedia(PAYLOAD.slice(0, 8)));
      const at = i % base.length;
      same(Buffer.concat([base.subarray(0, at), randomBytes(1 + (i % 5)), base.subarray(at + (i % 3))]));
    }
  });
});
