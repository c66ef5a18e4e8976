// Minimal WAV (RIFF) reader/writer for mu-law (format 7) and 16-bit PCM (format 1) mono files.
import { encodeMulaw } from './mulaw.ts';
import { pcm16FromBytes, resample } from './resample.ts';

export function writeMulawWav(mulaw: Buffer, sampleRate = 8000): Buffer {
  const header = Buffer.alloc(58);
  header.write('RIFF', 0);
  header.writeUInt32LE(50 + mulaw.length, 4);
  header.write('WAVE', 8);
  header.write('fmt ', 12);
  header.writeUInt32LE(18, 16);
  header.writeUInt16LE(7, 20); // mu-law
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate, 28);
  header.writeUInt16LE(1, 32);
  header.writeUInt16LE(8, 34);
  header.writeUInt16LE(0, 36);
  header.write('fact', 38);
  header.writeUInt32LE(4, 42);
  header.writeUInt32LE(mulaw.length, 46);
  header.write('data', 50);
  header.writeUInt32LE(mulaw.length, 54);
  return Buffer.concat([header, mulaw]);
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
