// What greeting did the caller hear? The echo backend greets a first-time caller with one 600 ms tone
// (523 Hz) and a caller the memory knows with a rising chime (523 Hz, then 784 Hz): the pitch of the
// greeting's second half tells them apart. Pure tones, so counting zero crossings is exact enough.
import { MULAW_DECODE } from '../../voice-gateway/audio/mulaw.ts';
import { GREETING_HZ, WELCOME_BACK_HZ } from '../../voice-gateway/backends/echo.ts';

export type Greeting = 'welcome-back' | 'first-time' | 'none';

/** Pitch of 8 kHz mu-law audio from its zero crossings (Hz). */
export function pitchHz(mulaw: Buffer): number {
  let crossings = 0;
  let previous = 0;
  for (const byte of mulaw) {
    const v = MULAW_DECODE[byte] as number;
    if (v !== 0 && previous !== 0 && Math.sign(v) !== Math.sign(previous)) crossings++;
    if (v !== 0) previous = v;
  }
  return (crossings / 2) * (8000 / mulaw.length);
}

/** Classifies the first 600 ms of what the agent said (CallResult.agentAudio with `record: true`). */
export function classifyGreeting(agentAudio: Buffer | undefined): Greeting {
  if (!agentAudio || agentAudio.length < 4800) return 'none';
  const hz = pitchHz(agentAudio.subarray(3000, 4600)); // 375–575 ms: well inside the second note
  const near = (target: number) => Math.abs(hz - target) < target * 0.1;
  if (near(WELCOME_BACK_HZ)) return 'welcome-back';
  if (near(GREETING_HZ)) return 'first-time';
  return 'none';
}
