// The stereo WAV a call recording is: 8 kHz mu-law (format 7), caller left, agent right — Twilio's own
// encoding, so both tracks are stored exactly as they crossed the gateway. A recording is written as
// it happens, so its header carries the "unknown length" sizes (0xFFFFFFFF, as streaming encoders
// write); `finalizeWavHeader` puts the real sizes in when the recording is read back.
import { wavChunks } from '../audio/wav.ts';

export const WAV_HEADER_BYTES = 58;
export const SAMPLE_RATE = 8000;
export const MULAW_SILENCE = 0xff;

export function streamingWavHeader(): Buffer {
  const h = Buffer.alloc(WAV_HEADER_BYTES);
  h.write('RIFF', 0);
  h.writeUInt32LE(0xffffffff, 4);
  h.write('WAVE', 8);
  h.write('fmt ', 12);
  h.writeUInt32LE(18, 16);
  h.writeUInt16LE(7, 20); // mu-law
  h.writeUInt16LE(2, 22); // stereo: caller left, agent right
  h.writeUInt32LE(SAMPLE_RATE, 24);
  h.writeUInt32LE(SAMPLE_RATE * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(8, 34);
  h.writeUInt16LE(0, 36);
  h.write('fact', 38);
  h.writeUInt32LE(4, 42);
  h.writeUInt32LE(0xffffffff, 46);
  h.write('data', 50);
  h.writeUInt32LE(0xffffffff, 54);
  return h;
}

/** Fills in the sizes of a streaming header, given the whole file's length. */
export function finalizeWavHeader(file: Buffer): Buffer {
  const data = file.length - WAV_HEADER_BYTES;
  file.writeUInt32LE(file.length - 8, 4);
  file.writeUInt32LE(data / 2, 46);
  file.writeUInt32LE(data, 54);
  return file;
}

/** Splits a stereo mu-law WAV into its two tracks. */
export function splitStereoMulaw(file: Buffer): {
  caller: Buffer;
  agent: Buffer;
  channels: number;
  format: number;
} {
  const { fmt, data } = wavChunks(file);
  const caller = Buffer.alloc(data.length >> 1);
  const agent = Buffer.alloc(data.length >> 1);
  for (let i = 0; i < caller.length; i++) {
    caller[i] = data[2 * i] as number;
    agent[i] = data[2 * i + 1] as number;
  }
  return { caller, agent, channels: fmt?.channels ?? 0, format: fmt?.format ?? 0 };
}
