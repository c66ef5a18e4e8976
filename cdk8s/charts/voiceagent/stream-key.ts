// The per-VoiceAgent key of the stream credentials (ADR 0011): every gateway pod of the fleet signs
// and verifies them with it. Generated once: the Secret is create-only (the operator creates it when
// absent and never applies it again), so a reconcile never rotates the key under live calls.
import { randomBytes } from 'node:crypto';
import type { Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import type { SecretKeySelector } from '../../api/v1alpha1/index.ts';
import { CREATE_ONLY_ANNOTATION } from '../labels.ts';
import type { VoiceAgentModel } from './model.ts';

export const STREAM_KEY_SECRET_KEY = 'key';

/** Where the gateway reads its stream key (env CALLFLEET_STREAM_KEY); only twilio-stream mode has streams. */
export function streamKeyRef(m: VoiceAgentModel): SecretKeySelector | undefined {
  if (m.spec.telephony.mode !== 'twilio-stream') return undefined;
  return { name: m.names.streamKey, key: STREAM_KEY_SECRET_KEY };
}

export function addStreamKeySecret(chart: Chart, m: VoiceAgentModel): void {
  if (!streamKeyRef(m)) return;
  const source = m.ctx.randomBytes ?? ((n: number) => randomBytes(n));
  new kplus.Secret(chart, 'stream-key', {
    metadata: {
      name: m.names.streamKey,
      labels: m.labels('stream-key'),
      annotations: { [CREATE_ONLY_ANNOTATION]: 'true' },
    },
    type: 'Opaque',
    stringData: { [STREAM_KEY_SECRET_KEY]: m.ctx.streamKey ?? Buffer.from(source(32)).toString('base64') },
  });
}
