// The gateway config of call control (ADR 0019): bad values are refused naming the field.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseGatewayConfig } from '../../../voice-gateway/config/load.ts';

const base = { publicBaseUrl: 'https://voice.example.com' };
const refused = (raw: unknown, field: RegExp) =>
  assert.throws(
    () => parseGatewayConfig(raw),
    (e: unknown) => e instanceof ConfigError && field.test(e.message),
  );

describe('gateway config: call control', () => {
  it('defaults: no standby, 4 s stall detection, no transfer, no re-prompt', () => {
    const c = parseGatewayConfig(base);
    assert.deepEqual(c.agent.fallbacks, []);
    assert.equal(c.agent.stallSeconds, 4);
    assert.equal(c.calls.transfer, undefined);
    assert.equal(c.calls.reprompt, undefined);
  });

  it('refuses a standby that repeats a provider or lacks its block', () => {
    refused(
      { ...base, agent: { provider: 'echo', fallbacks: ['echo'] } },
      /agent\.fallbacks\.0: echo is already in the chain/,
    );
    refused(
      { ...base, agent: { provider: 'echo', fallbacks: ['elevenlabs'] } },
      /agent\.elevenlabs: required when elevenlabs is a fallback/,
    );
  });

  it('refuses transfer targets that are not E.164 or SIP, and duplicate names', () => {
    refused(
      { ...base, calls: { transfer: { targets: [{ name: 'sales', dial: '5550100' }] } } },
      /calls\.transfer\.targets\.0\.dial/,
    );
    refused(
      {
        ...base,
        calls: {
          transfer: {
            targets: [
              { name: 'sales', dial: '+15550100' },
              { name: 'sales', dial: 'sip:sales@pbx.example.com' },
            ],
          },
        },
      },
      /calls\.transfer\.targets\.1\.name: duplicate sales/,
    );
  });

  it('refuses a re-prompt that would come after the silence timeout', () => {
    refused(
      { ...base, calls: { silenceTimeoutSeconds: 10, reprompt: { afterSeconds: 10 } } },
      /calls\.reprompt\.afterSeconds: must be less than silenceTimeoutSeconds/,
    );
    const c = parseGatewayConfig({ ...base, calls: { silenceTimeoutSeconds: 30, reprompt: {} } });
    assert.equal(c.calls.reprompt?.afterSeconds, 10);
    assert.equal(c.calls.reprompt?.maxCount, 2);
  });
});
