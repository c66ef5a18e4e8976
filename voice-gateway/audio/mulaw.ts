// G.711 mu-law <-> 16-bit linear PCM. Tables built once.

const BIAS = 0x84;
const CLIP = 32635;

export const MULAW_DECODE = new Int16Array(256);
for (let i = 0; i < 256; i++) {
  const u = ~i & 0xff;
  const sign = u & 0x80;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  let sample = (((mantissa << 3) + BIAS) << exponent) - BIAS;
  if (sign) sample = -sample;
  MULAW_DECODE[i] = sample;
}

export function linearToMulaw(sample: number): number {
  let s = sample;
  const sign = s < 0 ? 0x80 : 0;
  if (sign) s = -s;
  if (s > CLIP) s = CLIP;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

export function decodeMulaw(mulaw: Uint8Array): Int16Array {
  const out = new Int16Array(mulaw.length);
  for (let i = 0; i < mulaw.length; i++) out[i] = MULAW_DECODE[mulaw[i] as number] as number;
  return out;
}

export function encodeMulaw(pcm: Int16Array): Buffer {
  const out = Buffer.allocUnsafe(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = linearToMulaw(pcm[i] as number);
  return out;
}

/**
 * Peak absolute amplitude of mu-law bytes `[from, length)`, sampling every `step`-th byte (cheap
 * speech detection).
 */
export function mulawPeak(mulaw: Uint8Array, length: number, step = 4, from = 0): number {
  let peak = 0;
  for (let i = from; i < length; i += step) {
    const v = MULAW_DECODE[mulaw[i] as number] as number;
    const a = v < 0 ? -v : v;
    if (a > peak) peak = a;
  }
  return peak;
}

export const MULAW_SILENCE = 0xff;
