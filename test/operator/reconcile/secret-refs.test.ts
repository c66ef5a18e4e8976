// Which Secrets a rendered gateway pod reads, and what is reported when one is missing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubernetesObject } from '@kubernetes/client-node';
import {
  missingSecret,
  referencedSecrets,
  SecretIndex,
  secretKeysOnly,
} from '../../../operator/reconcile/secret-refs.ts';

const deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'a' },
  spec: {
    template: {
      spec: {
        containers: [
          {
            name: 'gateway',
            env: [
              {
                name: 'TWILIO_AUTH_TOKEN',
                valueFrom: { secretKeyRef: { name: 'twilio', key: 'auth-token' } },
              },
              { name: 'EXTRA', valueFrom: { secretKeyRef: { name: 'extra', key: 'x', optional: true } } },
              { name: 'STREAM_KEY', valueFrom: { secretKeyRef: { name: 'a-stream-key', key: 'key' } } },
            ],
            envFrom: [{ secretRef: { name: 'bulk' } }],
          },
        ],
        volumes: [{ name: 'certs', secret: { secretName: 'tls', items: [{ key: 'tls.crt', path: 'c' }] } }],
      },
    },
  },
} as KubernetesObject;
// A Secret the operator renders itself next to the Deployment is created in the same apply.
const ownSecret = {
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'a-stream-key' },
} as KubernetesObject;

test('env, envFrom and volume Secrets are referenced; optional ones and rendered ones are not', () => {
  assert.deepEqual(referencedSecrets([deployment, ownSecret]), [
    { name: 'twilio', key: 'auth-token', from: 'spec.telephony.twilio.authTokenSecretRef' },
    { name: 'bulk', from: 'envFrom of gateway' },
    { name: 'tls', key: 'tls.crt', from: 'volume certs' },
  ]);
});

test('the first missing Secret or key is named with the field; present ones pass', () => {
  const refs = referencedSecrets([deployment, ownSecret]);
  const cache = new Map<string, KubernetesObject>();
  const get = (k: string) => cache.get(k);
  assert.deepEqual(missingSecret('ns', refs, get), {
    reason: 'SecretNotFound',
    message: 'Secret twilio (spec.telephony.twilio.authTokenSecretRef) does not exist in namespace ns',
  });
  cache.set(
    'ns/twilio',
    secretKeysOnly({ kind: 'Secret', metadata: { name: 'twilio' }, data: {} } as KubernetesObject),
  );
  assert.equal(missingSecret('ns', refs, get)?.reason, 'SecretKeyNotFound');
  const full = (name: string, keys: string[]) =>
    secretKeysOnly({
      kind: 'Secret',
      metadata: { name },
      data: Object.fromEntries(keys.map((k) => [k, 'eA=='])),
    } as KubernetesObject);
  cache.set('ns/twilio', full('twilio', ['auth-token']));
  cache.set('ns/bulk', full('bulk', []));
  cache.set('ns/tls', full('tls', ['tls.crt']));
  assert.equal(missingSecret('ns', refs, get), undefined);
});

test('the index maps a Secret to the VoiceAgents reading it, per namespace', () => {
  const index = new SecretIndex();
  index.set('ns/a', 'ns', ['twilio']);
  index.set('ns/b', 'ns', ['twilio', 'openai']);
  index.set('other/c', 'other', ['twilio']);
  assert.deepEqual(index.agentsReading('ns/twilio'), ['ns/a', 'ns/b']);
  assert.deepEqual(index.agentsReading('ns/openai'), ['ns/b']);
  index.delete('ns/b');
  assert.deepEqual(index.agentsReading('ns/openai'), []);
});
