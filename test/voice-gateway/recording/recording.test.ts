// Call recording end to end (issue 19, acceptance b): a real gateway process with recording on, a real
// PostgreSQL (the recordings index), a real S3 server (versitygw), the Twilio call simulator and an
// agent that sends a known pattern. The stored object is sealed; opened with the key it is a stereo
// mu-law WAV whose left channel is exactly the caller audio the simulator sent and whose right
// channel is exactly what the agent sent. The data-rights export lists it, forget deletes it.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { parseKeyring } from '../../../voice-gateway/memory/store/crypto.ts';
import { createPool } from '../../../voice-gateway/memory/store/pool.ts';
import { readRecording } from '../../../voice-gateway/recording/export.ts';
import { splitStereoMulaw } from '../../../voice-gateway/recording/wav.ts';
import type { Bucket } from '../../../voice-gateway/storage/bucket.ts';
import { PatternAgent } from '../../fakes/pattern-agent.ts';
import { speechPattern } from '../../simulator/call.ts';
import { startPostgres, type TestPostgres } from '../../support/postgres.ts';
import { waitFor } from '../../support/processes.ts';
import { startS3, type TestS3 } from '../../support/s3.ts';
import { KEY_SPEC, phoneForms } from '../memory/harness.ts';
import { type GatewayProcess, spawnGateway } from './gateway-process.ts';

const CALLER = '+14155550301';
const TOKEN = 'dsr_recording_test';
const CONSENT = 'This call is recorded for quality.';

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

function trimSilence(b: Buffer): Buffer {
  let start = 0;
  let end = b.length;
  while (start < end && b[start] === 0xff) start++;
  while (end > start && b[end - 1] === 0xff) end--;
  return b.subarray(start, end);
}

describe('call recording: stereo, sealed, in the bucket, erasable', () => {
  let db: TestPostgres;
  let s3: TestS3;
  let agent: PatternAgent;
  let gw: GatewayProcess;
  let pool: pg.Pool;
  let bucket: Bucket;
  const ring = parseKeyring(KEY_SPEC);

  before(async () => {
    [db, s3] = await Promise.all([startPostgres(), startS3()]);
    await s3.createBucket('recordings');
    agent = new PatternAgent(8000, 1600);
    const agentUrl = await agent.start();
    gw = await spawnGateway(
      'recording',
      {
        agent: { provider: 'websocket', websocket: { url: agentUrl } },
        memory: { enabled: true },
        recording: {
          enabled: true,
          bucket: s3.config('recordings', 'team-a/'),
          retentionDays: 30,
          consentAnnouncement: CONSENT,
        },
      },
      {
        CALLFLEET_MEMORY_URL: db.url,
        CALLFLEET_ENCRYPTION_KEY: KEY_SPEC,
        CALLFLEET_DATA_RIGHTS_TOKEN: TOKEN,
        ...s3.env,
      },
    );
    pool = createPool(db.url, { max: 2 });
    bucket = s3.bucket('recordings', 'team-a/');
    await waitFor('the gateway to migrate', async () => (await gw.metric('callfleet_memory_up')) === 1);
  });

  after(async () => {
    await gw?.stop();
    bucket?.destroy();
    await pool?.end().catch(() => {});
    await Promise.all([agent?.stop(), s3?.stop(), db?.destroy()]);
  });

  test('the caller track equals what the simulator sent, the agent track what the agent sent; erase removes it', async () => {
    const spoken = speechPattern(2000, 600, 400, 300);
    const call = await gw.call(CALLER, { audio: spoken, hangupAfterMs: 4000 });
    const result = await call.done;
    assert.equal(result.kind, 'stream');
    // The consent announcement is said before the stream connects (so before the agent speaks).
    assert.match(result.twiml, new RegExp(`<Response><Say>${CONSENT}</Say><Connect><Stream `));

    let row: { object_key: string; stream_sid: string; status: string; bytes: string } | undefined;
    await waitFor(
      'the recording to be stored',
      async () => {
        const { rows } = await pool.query('SELECT * FROM call_recordings WHERE call_sid = $1', [
          call.callSid,
        ]);
        row = rows[0];
        return row?.status === 'complete';
      },
      20_000,
    );
    assert.ok(row);
    const wav = await readRecording(bucket, ring, row.object_key, row.stream_sid);
    const { caller, agent: agentTrack, channels, format } = splitStereoMulaw(wav);
    assert.equal(channels, 2);
    assert.equal(format, 7, 'mu-law');
    // Left: exactly the frames the caller sent — the spoken audio, then the silence frames after it.
    const session = agent.sessions.at(-1);
    assert.ok(session);
    const relayed = Buffer.concat(session.received);
    assert.deepEqual(caller.subarray(0, spoken.length), spoken, 'the spoken audio, byte for byte');
    assert.ok(
      caller.subarray(spoken.length).every((b) => b === 0xff),
      'then the silence frames',
    );
    assert.deepEqual(caller, relayed, 'the same bytes the agent received');
    // Right: exactly the agent's pattern, placed where the caller heard it.
    assert.deepEqual(trimSilence(agentTrack), agent.pattern);
    assert.equal(Number(row.bytes) > wav.length, true, 'stored sealed (segment tags)');

    // What the server stores is ciphertext: neither the pattern nor the WAV header is in it.
    const stored = filesUnder(s3.dir).filter((f) => f.endsWith('.wav.sealed'));
    assert.equal(stored.length, 1);
    const raw = readFileSync(stored[0] as string);
    assert.ok(!raw.includes(agent.pattern.subarray(0, 64)));
    assert.ok(!raw.includes(Buffer.from('RIFF')));
    for (const form of phoneForms(CALLER)) assert.ok(!row.object_key.includes(form));

    // Data-rights export lists it; forget deletes the object and the row.
    const post = (path: string, body: unknown) =>
      fetch(`${gw.internalUrl}/memory/${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    await waitFor(
      'the call record',
      async () =>
        (await pool.query('SELECT 1 FROM calls WHERE call_sid = $1', [call.callSid])).rowCount === 1,
      10_000,
    );
    const exported = (await (await post('export', { phone: CALLER })).json()) as {
      recordings: { objectKey: string; durationMs: number }[];
    };
    assert.equal(exported.recordings.length, 1);
    assert.equal(exported.recordings[0]?.objectKey, row.object_key);
    assert.ok((exported.recordings[0]?.durationMs ?? 0) >= 2000);
    const forgot = (await (await post('forget', { phone: CALLER, actor: 'test' })).json()) as {
      counts: { recordings: number; calls: number };
    };
    assert.equal(forgot.counts.recordings, 1);
    assert.equal(await bucket.head(row.object_key), null, 'the object is gone from the bucket');
    assert.equal(filesUnder(s3.dir).filter((f) => f.endsWith('.wav.sealed')).length, 0);
    const left = await pool.query('SELECT 1 FROM call_recordings WHERE call_sid = $1', [call.callSid]);
    assert.equal(left.rowCount, 0);
    assert.equal(await gw.metric('callfleet_recordings_completed_total'), 1);
    assert.equal(await gw.metric('callfleet_recordings_failed_total'), 0);
  });
});
