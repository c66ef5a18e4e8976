// Issue 15, hole 5: an endless chunked body was read to the end (42 MB in 4 s) and slow clients were
// never cut. Bodies stop at the limit with 413 and a closed socket; slow headers and slow bodies time
// out within the door's limits. The gateway keeps answering everyone else meanwhile.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_HTTP_LIMITS } from '../../voice-gateway/http/limits.ts';
import { type AdversarialGateway, FULL, startAdversarialGateway } from './gateway.ts';
import {
  declaredHugeBody,
  endlessChunkedBody,
  rawRequest,
  silentConnections,
  slowBody,
  slowHeaders,
} from './http-attacks.ts';

// Small: tight limits so the suite stays quick. Full: the production defaults.
const LIMITS = FULL
  ? DEFAULT_HTTP_LIMITS
  : { ...DEFAULT_HTTP_LIMITS, headersTimeoutMs: 1_000, bodyTimeoutMs: 1_500 };
const SLOW_CONNECTIONS = FULL ? 200 : 10;
const report = (x: unknown) => process.env.ADVERSARIAL_REPORT && console.log(JSON.stringify(x));

describe('request bodies and slow clients', { timeout: 120_000 }, () => {
  let gw: AdversarialGateway;
  before(async () => {
    gw = await startAdversarialGateway({ http: LIMITS as unknown as Record<string, number> });
  });
  after(() => gw?.close());

  it('the production limits are the ones applied to both doors', () => {
    for (const server of [gw.gateway.server, gw.gateway.internalServer]) {
      assert.equal(server.headersTimeout, LIMITS.headersTimeoutMs);
      assert.equal(server.requestTimeout, LIMITS.requestTimeoutMs);
      assert.equal(server.keepAliveTimeout, LIMITS.keepAliveTimeoutMs);
    }
    assert.deepEqual(
      [
        DEFAULT_HTTP_LIMITS.maxBodyBytes,
        DEFAULT_HTTP_LIMITS.headersTimeoutMs,
        DEFAULT_HTTP_LIMITS.bodyTimeoutMs,
      ],
      [64 * 1024, 5_000, 10_000],
    );
  });

  for (const path of ['/twilio/voice', '/elevenlabs/post-call', '/not-a-route']) {
    it(`an endless chunked body to ${path} is refused at the limit (413) and the socket closed`, async () => {
      const r = await endlessChunkedBody(gw.target, {
        path,
        giveUpBytes: FULL ? 1024 * 1024 * 1024 : 128 * 1024 * 1024,
        giveUpMs: FULL ? 20_000 : 5_000,
      });
      report({ path, ...r.detail });
      assert.ok(r.held, JSON.stringify(r.detail));
      assert.equal(r.detail.status, 413);
      // What the client could push includes both kernels' socket buffers; the gateway read 64 KiB.
      assert.ok(r.detail.bytesSent < 32 * 1024 * 1024, `${r.detail.bytesSent} bytes accepted`);
      assert.ok((r.detail.msToClose ?? Infinity) < 2_000, `closed after ${r.detail.msToClose} ms`);
    });
  }

  it('a Content-Length above the limit is refused before the body is read', async () => {
    const r = await declaredHugeBody(gw.target);
    assert.ok(r.held, JSON.stringify(r.detail));
  });

  it(`${SLOW_CONNECTIONS} slowloris connections (headers never finish) are closed within the headers timeout`, async () => {
    const r = await slowHeaders(gw.target, {
      connections: SLOW_CONNECTIONS,
      everyMs: 200,
      deadlineMs: LIMITS.headersTimeoutMs + 3_000,
    });
    report(r.detail);
    assert.ok(r.held, JSON.stringify({ ...r.detail, closedWithinMs: undefined }));
    assert.ok((r.detail.maxMs ?? Infinity) <= LIMITS.headersTimeoutMs + 2_000);
  });

  it(`${SLOW_CONNECTIONS} slow bodies (one byte every 200 ms) are cut within the body timeout`, async () => {
    const r = await slowBody(gw.target, {
      connections: SLOW_CONNECTIONS,
      everyMs: 200,
      deadlineMs: LIMITS.bodyTimeoutMs + 3_000,
    });
    report(r.detail);
    assert.ok(r.held, JSON.stringify({ ...r.detail, closedWithinMs: undefined }));
    assert.ok((r.detail.maxMs ?? Infinity) <= LIMITS.bodyTimeoutMs + 2_000);
    assert.ok((await gw.metric('callfleet_http_rejected_total', 'door="public",reason="body_timeout"')) >= 1);
  });

  it(`${SLOW_CONNECTIONS} connections that never send a byte are closed within the request timeout`, async () => {
    const r = await silentConnections(gw.target, {
      connections: SLOW_CONNECTIONS,
      deadlineMs: LIMITS.requestTimeoutMs + 3_000,
    });
    report(r.detail);
    assert.ok(r.held, JSON.stringify({ ...r.detail, closedWithinMs: undefined }));
    assert.ok((r.detail.maxMs ?? Infinity) <= LIMITS.requestTimeoutMs + 1_500);
  });

  it('everyone else is served while the attacks run', async () => {
    const attacks = Promise.all([
      endlessChunkedBody(gw.target, { giveUpMs: 3_000 }),
      slowHeaders(gw.target, {
        connections: SLOW_CONNECTIONS,
        everyMs: 200,
        deadlineMs: LIMITS.headersTimeoutMs + 3_000,
      }),
    ]);
    const latencies: number[] = [];
    for (let i = 0; i < 50; i++) {
      const r = await rawRequest(
        gw.target,
        'GET /health HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n',
      );
      assert.equal(r.status, 200);
      latencies.push(r.ms);
    }
    await attacks;
    latencies.sort((a, b) => a - b);
    report({ healthP50Ms: latencies[25], healthMaxMs: latencies.at(-1) });
    assert.ok((latencies[25] ?? Infinity) < 100, `health p50 ${latencies[25]} ms under attack`);
  });
});
