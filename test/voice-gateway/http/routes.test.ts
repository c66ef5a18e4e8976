import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type GatewayHandlers, internalRoutes, publicRoutes } from '../../../voice-gateway/http/routes.ts';

const none = () => undefined;
const handlers: GatewayHandlers = {
  health: none,
  ready: none,
  status: none,
  metrics: none,
  retire: none,
  twilio: { voice: none, streamStatus: none, callStatus: none, whisper: none },
  elevenlabs: undefined,
  memoryApi: none,
};

describe('the route table', () => {
  it('the public door serves only health and the Twilio / ElevenLabs webhooks (rule 10)', () => {
    const paths = publicRoutes(handlers).map((r) => r.path);
    assert.ok(
      paths.every((p) => p.startsWith('/health') || p.startsWith('/twilio/') || p.startsWith('/elevenlabs/')),
    );
    assert.ok(paths.includes('/twilio/voice') && paths.includes('/elevenlabs/post-call'));
  });
  it('the internal door serves status, metrics, retire and the data-rights API, and no webhook', () => {
    const paths = internalRoutes(handlers).map((r) => r.path);
    for (const p of ['/status', '/metrics', '/retire', '/memory/']) assert.ok(paths.includes(p), p);
    assert.ok(!paths.some((p) => p.startsWith('/twilio/') || p.startsWith('/elevenlabs/')));
    assert.ok(!internalRoutes({ ...handlers, memoryApi: undefined }).some((r) => r.path === '/memory/'));
  });
  it('route names are unique per door', () => {
    for (const routes of [publicRoutes(handlers), internalRoutes(handlers)]) {
      const names = routes.map((r) => r.name);
      assert.equal(new Set(names).size, names.length);
    }
  });
});
