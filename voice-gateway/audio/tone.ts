import { linearToMulaw } from './mulaw.ts';

/** A sine tone as 8 kHz mu-law bytes. */
export function toneMulaw(freqHz: number, ms: number, amplitude = 8000): Buffer {
  const n = Math.round(ms * 8);
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++)
    out[i] = linearToMulaw(Math.round(amplitude * Math.sin((2 * Math.PI * freqHz * i) / 8000)));
  return out;
}
