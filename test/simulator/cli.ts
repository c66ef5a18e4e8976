// `callfleet call`: place one simulated Twilio call against a gateway and print latency figures.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseCommandLine } from '../../operator/cli/args.ts';
import { readWavAsMulaw, writeMulawWav } from '../../voice-gateway/audio/wav.ts';
import { placeCall, speechPattern } from './call.ts';

const usage = `usage: callfleet call --url http://HOST:PORT [--public-base-url URL] [--wav FILE | --speech-ms N]
       [--duration SECONDS] [--record OUT.wav] [--from +1...] [--to +1...] [--call-sid CA...]
The Twilio auth token comes from TWILIO_AUTH_TOKEN (or --auth-token).
`;

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine(
    args,
    {
      options: {
        url: { type: 'string' },
        'public-base-url': { type: 'string' },
        'auth-token': { type: 'string' },
        wav: { type: 'string' },
        'speech-ms': { type: 'string' },
        duration: { type: 'string' },
        record: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        'call-sid': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    },
    { usage, prefix: 'callfleet call: ' },
  );
  if (typeof parsed === 'number') return parsed;
  const v = parsed.values;
  if (!v.url) {
    process.stderr.write(`callfleet call: --url is required\n${usage}`);
    return 2;
  }
  const token = v['auth-token'] ?? process.env.TWILIO_AUTH_TOKEN;
  if (!token) {
    process.stderr.write('callfleet call: TWILIO_AUTH_TOKEN (or --auth-token) is required\n');
    return 2;
  }
  const audio = v.wav ? readWavAsMulaw(readFileSync(v.wav)) : speechPattern(Number(v['speech-ms'] ?? 3000));
  const result = await placeCall({
    gatewayUrl: v.url,
    publicBaseUrl: v['public-base-url'] ?? v.url,
    authToken: token,
    audio,
    ...(v.duration ? { hangupAfterMs: Number(v.duration) * 1000 } : {}),
    ...(v.from ? { from: v.from } : {}),
    ...(v.to ? { to: v.to } : {}),
    ...(v['call-sid'] ? { callSid: v['call-sid'] } : {}),
    record: Boolean(v.record),
  });
  if (v.record && result.agentAudio) writeFileSync(v.record, writeMulawWav(result.agentAudio));
  const { agentAudio: _a, ...summary } = result;
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  return result.kind === 'stream' ? 0 : 1;
}
