// The recorder's bounds and privacy paths on a real PostgreSQL and a real S3 server: the agent queue
// models Twilio's playback buffer (clear empties it, overflow is dropped and counted), the pod-wide
// buffer budget drops instead of waiting (and such a recording is not kept), and a caller forgotten
// during the call leaves no recording behind.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { forgetCaller } from '../../../voice-gateway/memory/store/data-rights.ts';
import { readRecording } from '../../../voice-gateway/recording/export.ts';
import { RecordingIndex } from '../../../voice-gateway/recording/index-store.ts';
import { type RecordingOptions, Recordings } from '../../../voice-gateway/recording/recorder.ts';
import { splitStereoMulaw, WAV_HEADER_BYTES } from '../../../voice-gateway/recording/wav.ts';
import type { Bucket } from '../../../voice-gateway/storage/bucket.ts';
import { startS3, type TestS3 } from '../../support/s3.ts';
import { harnessForTests } from '../memory/harness.ts';

const h = harnessForTests();

describe('recorder bounds', () => {
  let s3: TestS3;
  let bucket: Bucket;
  before(async () => {
    s3 = await startS3();
    await s3.createBucket('rec');
    bucket = s3.bucket('rec');
  });
  after(async () => {
    bucket?.destroy();
    await s3?.stop();
  });
  let n = 0;
  const make = (o: Partial<RecordingOptions> = {}) =>
    new Recordings({
      bucket,
      index: new RecordingIndex(h().pool, h().keyring),
      keyring: h().keyring,
      retentionDays: 7,
      agentQueueBytes: 8000,
      maxBufferBytes: 64 * 1024 * 1024,
      ...o,
    });
  const call = () => {
    n++;
    return { callSid: `CArec${n}`, streamSid: `MZrec${n}`, from: `+1415555${7000 + n}` };
  };
  const row = async (streamSid: string) =>
    (await h().pool.query('SELECT * FROM call_recordings WHERE stream_sid = $1', [streamSid])).rows[0];

  test('clear() drops unplayed agent audio; overflow past the queue is dropped and counted', async () => {
    const rec = make({ agentQueueBytes: 800 });
    const c = call();
    const tap = rec.open(c);
    tap.agent(Buffer.alloc(1600, 0x11).toString('base64'));
    assert.equal(rec.counters.droppedBytes, 800, 'the queue holds 800 bytes: the rest is dropped');
    tap.caller(Buffer.alloc(160, 0x22), 160);
    tap.clear();
    tap.caller(Buffer.alloc(160, 0x33), 160);
    tap.close();
    await rec.flush(Date.now() + 10_000);
    assert.equal((await row(c.streamSid)).status, 'complete');
    const { caller, agent } = splitStereoMulaw(
      await readRecording(bucket, h().keyring, (await row(c.streamSid)).object_key, c.streamSid),
    );
    assert.deepEqual(caller, Buffer.concat([Buffer.alloc(160, 0x22), Buffer.alloc(160, 0x33)]));
    assert.deepEqual(agent, Buffer.concat([Buffer.alloc(160, 0x11), Buffer.alloc(160, 0xff)]));
    assert.equal((await row(c.streamSid)).dropped_bytes, '800');
  });

  test('past the pod buffer budget audio is dropped, never waited for, and the broken recording is not kept', async () => {
    const rec = make({ maxBufferBytes: 200 * 1024 });
    const c = call();
    const tap = rec.open(c);
    const frame = Buffer.alloc(160, 0x44);
    const t0 = performance.now();
    for (let i = 0; i < 50 * 30; i++) tap.caller(frame, 160); // 30 s: about 480 KB of stereo
    assert.ok(performance.now() - t0 < 1000, 'the tap never blocks');
    assert.ok(rec.counters.droppedBytes > 0);
    assert.ok(rec.bufferedBytes() <= 200 * 1024);
    tap.close();
    await rec.flush(Date.now() + 10_000);
    assert.equal(rec.counters.failed, 1);
    assert.equal((await row(c.streamSid)).status, 'failed');
    assert.equal(await bucket.head((await row(c.streamSid)).object_key), null, 'no object with a hole in it');
  });

  test('a caller forgotten during the call: the row goes with the forget, the object when the call ends', async () => {
    const rec = make();
    const c = call();
    const tap = rec.open(c);
    for (let i = 0; i < 100; i++) tap.caller(Buffer.alloc(160, 0x55), 160);
    await new Promise((r) => setTimeout(r, 200)); // the index row is written in the background
    const forgot = await forgetCaller(h().pool, h().keyring, c.from, 'test', bucket);
    assert.equal(forgot.counts.recordings, 1);
    tap.close();
    await rec.flush(Date.now() + 10_000);
    assert.equal(await row(c.streamSid), undefined);
    const key = `recordings/${c.callSid}/${c.streamSid}.wav.sealed`;
    assert.equal(await bucket.head(key), null);
    assert.equal(rec.counters.completed, 0);
  });

  test('the stored WAV header is a streaming header the reader completes', async () => {
    const rec = make();
    const c = call();
    const tap = rec.open(c);
    tap.caller(Buffer.alloc(160, 0x66), 160);
    tap.close();
    await rec.flush(Date.now() + 10_000);
    const wav = await readRecording(bucket, h().keyring, (await row(c.streamSid)).object_key, c.streamSid);
    assert.equal(wav.length, WAV_HEADER_BYTES + 320);
    assert.equal(wav.readUInt32LE(54), 320, 'data size filled in');
    assert.equal(wav.readUInt32LE(4), wav.length - 8);
  });
});
