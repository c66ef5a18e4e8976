// The bucket layer against a real S3-compatible server (versitygw): sealed objects round-trip through
// multipart upload, tampering/truncation/wrong key are refused, offer() drops instead of waiting.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseKeyring } from '../../../voice-gateway/memory/store/crypto.ts';
import { MultipartWriter } from '../../../voice-gateway/storage/multipart.ts';
import { openSealed, rewrapMetadata, SEGMENT_BYTES, Sealer } from '../../../voice-gateway/storage/sealed.ts';
import { startS3, type TestS3 } from '../../support/s3.ts';

const RING = parseKeyring('k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=');
const RING2 = parseKeyring(
  `k2:${randomBytes(32).toString('base64')},k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=`,
);

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of it) parts.push(p);
  return Buffer.concat(parts);
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

describe('sealed objects in a real S3 server', () => {
  let s3: TestS3;
  before(async () => {
    s3 = await startS3();
    await s3.createBucket('team');
  });
  after(async () => {
    await s3?.stop();
  });

  test('a 12 MiB stream goes up in multipart parts and opens to the same bytes; only ciphertext is stored', async () => {
    const bucket = s3.bucket('team', 'p/');
    const plain = randomBytes(12 * 1024 * 1024 + 12345);
    plain.write('CALLER-SECRET-MARKER', 1000);
    const sealer = new Sealer(RING.active, 'test:1');
    const writer = new MultipartWriter(bucket, bucket.key('big.sealed'), { metadata: sealer.metadata });
    for (let i = 0; i < plain.length; i += 100_000) {
      for (const seg of sealer.push(plain.subarray(i, i + 100_000))) await writer.write(seg);
    }
    await writer.write(sealer.final());
    await writer.finish();
    assert.ok(writer.written > plain.length, 'ciphertext is larger (tags)');
    const got = await bucket.get(bucket.key('big.sealed'));
    assert.deepEqual(await collect(openSealed(RING, got.metadata, 'test:1', got.body)), plain);
    const stored = filesUnder(s3.dir).filter((f) => f.endsWith('big.sealed'));
    assert.equal(stored.length, 1);
    assert.ok(!readFileSync(stored[0] as string).includes('CALLER-SECRET-MARKER'));
    bucket.destroy();
  });

  test('tampering, truncation, another purpose and a missing key are refused', async () => {
    const bucket = s3.bucket('team');
    const sealer = new Sealer(RING.active, 'test:2');
    const body = Buffer.concat([...sealer.push(randomBytes(SEGMENT_BYTES * 2 + 10)), sealer.final()]);
    await bucket.put('t.sealed', body, sealer.metadata);
    const { metadata } = await bucket.getBuffer('t.sealed');
    const once = async function* (b: Buffer) {
      yield b;
    };
    await assert.rejects(
      collect(openSealed(RING, metadata, 'test:other', once(body))),
      /data key does not open/,
    );
    const flipped = Buffer.from(body);
    flipped[70_000] = (flipped[70_000] as number) ^ 1;
    await assert.rejects(
      collect(openSealed(RING, metadata, 'test:2', once(flipped))),
      /segment 1 failed authentication/,
    );
    const truncated = body.subarray(0, (SEGMENT_BYTES + 16) * 2);
    await assert.rejects(
      collect(openSealed(RING, metadata, 'test:2', once(truncated))),
      /failed authentication/,
    );
    await assert.rejects(
      collect(
        openSealed(parseKeyring(`k9:${randomBytes(32).toString('base64')}`), metadata, 'test:2', once(body)),
      ),
      /key id "k1", which is not in the keyring/,
    );
    // Rotation re-wraps the data key in the metadata (server-side copy); the body is untouched.
    await bucket.replaceMetadata('t.sealed', rewrapMetadata(RING2, metadata, 'test:2'));
    const rewrapped = await bucket.getBuffer('t.sealed');
    assert.equal(rewrapped.metadata['callfleet-key-id'], 'k2');
    assert.deepEqual(rewrapped.body, body);
    bucket.destroy();
  });

  test('offer() never waits: past the buffered parts it drops and counts', async () => {
    const bucket = s3.bucket('team');
    const writer = new MultipartWriter(bucket, 'offer.bin', { maxBufferedParts: 2 });
    const chunk = Buffer.alloc(1024 * 1024, 1);
    let accepted = 0;
    const t0 = performance.now();
    for (let i = 0; i < 40; i++) if (writer.offer(chunk)) accepted++;
    assert.ok(performance.now() - t0 < 500, 'offer is synchronous');
    assert.ok(accepted <= 10 && accepted >= 5, `accepted ${accepted} MiB`);
    assert.equal(writer.dropped, (40 - accepted) * chunk.length);
    await writer.finish();
    const head = await bucket.head('offer.bin');
    assert.equal(head?.size, accepted * chunk.length);
    bucket.destroy();
  });
});
