// Reading a call recording back: fetch the sealed object, open it with the keyring, fill in the WAV
// sizes. Used by `callfleet memory export --recordings-dir` (data-rights export) and the tests.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Keyring } from '../memory/store/crypto.ts';
import type { Bucket } from '../storage/bucket.ts';
import { openSealed } from '../storage/sealed.ts';
import type { RecordingRow } from './index-store.ts';
import { recordingPurpose } from './recorder.ts';
import { finalizeWavHeader } from './wav.ts';

export async function readRecording(
  bucket: Bucket,
  ring: Keyring,
  objectKey: string,
  streamSid: string,
): Promise<Buffer> {
  const { body, metadata } = await bucket.get(objectKey, bucket.timeoutMs * 4);
  const parts: Buffer[] = [];
  for await (const plain of openSealed(ring, metadata, recordingPurpose(streamSid), body)) parts.push(plain);
  return finalizeWavHeader(Buffer.concat(parts));
}

export async function saveRecording(
  bucket: Bucket,
  ring: Keyring,
  r: RecordingRow,
  dir: string,
): Promise<string> {
  const file = join(dir, `${r.callSid}-${r.streamSid}.wav`);
  writeFileSync(file, await readRecording(bucket, ring, r.objectKey, r.streamSid), { mode: 0o600 });
  return file;
}
