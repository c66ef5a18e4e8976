// Minimal WAV (RIFF) reader/writer for mu-law (format 7) and 16-bit PCM (format 1) mono files.
import { encodeMulaw } from './mulaw.ts';
import { pcm16FromBytes, resample } from './resample.ts';

/** Data size that marks a WAV written as it happens (length unknown), as streaming encoders write. */
export const UNKNOWN_LENGTH = 0xffffffff;

/** The 58-byte header of a mu-law WAV (format 7, with the fact chunk non-PCM formats carry). */
export function mulawWavHeader(channels: number, sampleRate: number, dataBytes: number): Buffer {
  const unknown = dataBytes === UNKNOWN_LENGTH;
  const h = Buffer.alloc(58);
  h.write('RIFF', 0);
  h.writeUInt32LE(unknown ? UNKNOWN_LENGTH : 50 + dataBytes, 4);
  h.write('WAVE', 8);
  h.write('fmt ', 12);
  h.writeUInt32LE(18, 16);
  h.writeUInt16LE(7, 20); // mu-law
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * channels, 28);
  h.writeUInt16LE(channels, 32);
  h.writeUInt16LE(8, 34);
  h.writeUInt16LE(0, 36);
  h.write('fact', 38);
  h.writeUInt32LE(4, 42);
  h.writeUInt32LE(unknown ? UNKNOWN_LENGTH : dataBytes / channels, 46);
  h.write('data', 50);
  h.writeUInt32LE(dataBytes, 54);
  return h;
}

export function writeMulawWav(mulaw: Buffer, sampleRate = 8000): Buffer {
  return Buffer.concat([mulawWavHeader(1, sampleRate, mulaw.length), mulaw]);
}

export interface WavFormat {
  format: number;
  channels: number;
  rate: number;
  bits: number;
}

/**
 * Walks a RIFF/WAVE file's chunks up to the data chunk: the `fmt ` fields (undefined when no `fmt `
 * chunk came first) and the data (cut at the file's end, as a streaming recording's may be).
 */
export function wavChunks(file: Buffer): { fmt: WavFormat | undefined; data: Buffer } {
  if (file.toString('ascii', 0, 4) !== 'RIFF' || file.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error('not a RIFF/WAVE file');
  }
  let off = 12;
  let fmt: WavFormat | undefined;
  while (off + 8 <= file.length) {
    const id = file.toString('ascii', off, off + 4);
    const size = file.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === 'fmt ') {
      fmt = {
        format: file.readUInt16LE(body),
        channels: file.readUInt16LE(body + 2),
        rate: file.readUInt32LE(body + 4),
        bits: file.readUInt16LE(body + 14),
      };
    } else if (id === 'data') {
      return { fmt, data: file.subarray(body, Math.min(file.length, body + size)) };
    }
    off = body + size + (size & 1);
  }
  throw new Error('WAV file has no data chunk');
}

/** Reads a mono WAV file and returns 8 kHz mu-law bytes (transcoding PCM when needed). */
export function readWavAsMulaw(file: Buffer): Buffer {
  const { fmt, data } = wavChunks(file);
  const { format, channels, rate, bits } = fmt ?? { format: 0, channels: 1, rate: 8000, bits: 8 };
  if (channels !== 1) throw new Error(`only mono WAV is supported (got ${channels} channels)`);
  if (format === 7 && rate === 8000) return Buffer.from(data);
  if (format === 1 && bits === 16) return encodeMulaw(resample(pcm16FromBytes(data), rate, 8000));
  throw new Error(`unsupported WAV format ${format}/${bits} bit/${rate} Hz`);
}
