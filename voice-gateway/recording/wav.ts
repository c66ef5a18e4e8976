// The stereo WAV a call recording is: 8 kHz mu-law (format 7), caller left, agent right — Twilio's own
// encoding, so both tracks are stored exactly as they crossed the gateway. A recording is written as
// it happens, so its header carries the "unknown length" sizes (0xFFFFFFFF, as streaming encoders
// write); `finalizeWavHeader` puts the real sizes in when the recording is read back.
import { mulawWavHeader, UNKNOWN_LENGTH, wavChunks } from '../audio/wav.ts';

export const WAV_HEADER_BYTES = 58;
export const SAMPLE_RATE = 8000;
export const MULAW_SILENCE = 0xff;

export function streamingWavHeader(): Buffer {
  return mulawWavHeader(2, SAMPLE_RATE, UNKNOWN_LENGTH); // stereo: caller left, agent right
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
