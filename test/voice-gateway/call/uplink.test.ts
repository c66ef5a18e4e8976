// Caller audio towards the backend in chunks (voice-gateway/call/uplink.ts): every byte arrives, in
// order, in chunks of the configured size; held audio leaves on flush and within its time bound.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BACKSTOP_MS,
  sweptChunkers,
  UPLINK_CHUNK_MS,
  UplinkChunker,
} from '../../../voice-gateway/call/uplink.ts';

function frame(i: number, bytes = 160): Buffer {
  const b = Buffer.alloc(bytes);
  for (let k = 0; k < bytes; k++) b[k] = (i * 7 + k) & 0xff;
  return b;
}

function collector() {
  const sent: { payload: string; frames: number; at: number }[] = [];
  return {
    sent,
    target: {
      sendUplink(payload: string, frames: number) {
        sent.push({ payload, frames, at: performance.now() });
        return true;
      },
    },
    bytes: () => Buffer.concat(sent.map((s) => Buffer.from(s.payload, 'base64'))),
  };
}

function feed(c: UplinkChunker, b64: string, now = performance.now()): void {
  c.add(b64, now);
  c.release();
}

describe('uplink chunks (calls.uplinkChunkMs)', () => {
  it('40 ms: two frames per message, every byte in order, the speech detector sees each frame', () => {
    const col = collector();
    const c = new UplinkChunker(col.target, 40, 1536);
    const frames = Array.from({ length: 11 }, (_, i) => frame(i));
    for (const f of frames) {
      const at = c.add(f.toString('base64'), performance.now());
      assert.deepEqual(
        c.buffer.subarray(at, c.heldBytes),
        f,
        'the frame as decoded, where the detector reads it',
      );
      c.release();
    }
    assert.equal(col.sent.length, 5);
    assert.ok(col.sent.every((s) => s.frames === 2 && Buffer.from(s.payload, 'base64').length === 320));
    assert.equal(c.heldFrames, 1, 'the 11th frame waits for its partner');
    c.flush();
    assert.equal(col.sent.at(-1)?.frames, 1);
    assert.deepEqual(col.bytes(), Buffer.concat(frames));
    c.flush();
    assert.equal(col.sent.length, 6, 'nothing held: flush sends nothing');
    c.close(false);
  });

  it('20 ms: each frame leaves as the very string Twilio sent (the slow path answers the same)', () => {
    const col = collector();
    const c = new UplinkChunker(col.target, 20, 1536);
    const payloads = Array.from({ length: 5 }, (_, i) => frame(i).toString('base64'));
    for (const p of payloads) feed(c, p);
    assert.deepEqual(
      col.sent.map((s) => s.payload),
      payloads,
    );
    assert.equal(c.heldBytes, 0);
    c.close(false);
  });

  it('odd frame sizes: a frame that would overflow the chunk sends what is held first; nothing is lost', () => {
    const col = collector();
    const c = new UplinkChunker(col.target, 40, 1536);
    const frames = [frame(1, 100), frame(2, 1000), frame(3, 7), frame(4, 160), frame(5, 1536), frame(6, 1)];
    for (const f of frames) feed(c, f.toString('base64'));
    c.flush();
    assert.deepEqual(col.bytes(), Buffer.concat(frames));
    for (const s of col.sent) assert.ok(Buffer.from(s.payload, 'base64').length <= 1536);
    c.close(false);
  });

  it('a held frame whose partner never comes leaves within its time bound', async () => {
    const col = collector();
    const c = new UplinkChunker(col.target, 40, 1536);
    const t0 = performance.now();
    feed(c, frame(1).toString('base64'), t0);
    assert.equal(col.sent.length, 0);
    assert.equal(c.holdMs, UPLINK_CHUNK_MS.max - 20 + 5);
    const deadline = t0 + 1000;
    while (col.sent.length === 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    const waited = (col.sent[0]?.at ?? Number.POSITIVE_INFINITY) - t0;
    assert.ok(waited >= c.holdMs - 1, `sent after ${waited} ms`);
    assert.ok(
      waited <= c.holdMs + BACKSTOP_MS + 30,
      `sent after ${waited} ms (bound ${c.holdMs} + ${BACKSTOP_MS})`,
    );
    c.close(false);
  });

  it('a frame of any call sweeps the others: a stalled call is flushed without waiting for the timer', () => {
    const a = collector();
    const b = collector();
    const ca = new UplinkChunker(a.target, 40, 1536);
    const cb = new UplinkChunker(b.target, 40, 1536);
    const t0 = performance.now();
    feed(ca, frame(1).toString('base64'), t0);
    feed(cb, frame(2).toString('base64'), t0 + ca.holdMs + 1);
    assert.equal(a.sent.length, 1, 'call a flushed by call b');
    assert.equal(b.sent.length, 0);
    ca.close(false);
    cb.close(false);
  });

  it('close: flushes to a live backend or drops, and leaves the sweep', () => {
    const before = sweptChunkers();
    const col = collector();
    const c = new UplinkChunker(col.target, 40, 1536);
    feed(c, frame(1).toString('base64'));
    assert.equal(sweptChunkers(), before + 1);
    c.close(true);
    assert.equal(col.sent.length, 1);
    assert.equal(sweptChunkers(), before);
    const d = new UplinkChunker(col.target, 40, 1536);
    feed(d, frame(2).toString('base64'));
    d.close(false);
    assert.equal(col.sent.length, 1, 'dropped');
    assert.equal(sweptChunkers(), before);
  });
});
