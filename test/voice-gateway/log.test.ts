// Log lines that Cloud Logging, Loki and Datadog read without remapping: string level + severity, ISO time,
// error stacks, and where the line comes from (namespace / voiceagent / pod from the downward-API env).
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { logContext, loggerOptions } from '../../voice-gateway/log.ts';

function capture(env: NodeJS.ProcessEnv, component = 'voice-gateway') {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: pino(loggerOptions(component, 'info', env), sink), lines };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('log lines', () => {
  const env = { POD_NAMESPACE: 'voice', CALLFLEET_VOICEAGENT: 'booking', POD_NAME: 'booking-7d9f-abcde' };

  it('carry a string level, a Cloud Logging severity and an ISO timestamp', async () => {
    const { log, lines } = capture(env);
    log.info('gateway listening');
    log.warn('slow');
    await tick();
    assert.equal(lines[0]?.level, 'info');
    assert.equal(lines[0]?.severity, 'INFO');
    assert.equal(lines[1]?.severity, 'WARNING');
    assert.match(String(lines[0]?.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('carry namespace, voiceagent and pod on every line, child loggers included', async () => {
    const { log, lines } = capture(env);
    log.child({ callSid: 'CA1' }).info('call started');
    await tick();
    assert.deepEqual(
      { namespace: lines[0]?.namespace, voiceagent: lines[0]?.voiceagent, pod: lines[0]?.pod },
      { namespace: 'voice', voiceagent: 'booking', pod: 'booking-7d9f-abcde' },
    );
    assert.equal(lines[0]?.callSid, 'CA1');
  });

  it('keep an error stack', async () => {
    const { log, lines } = capture(env, 'operator');
    log.error({ err: new Error('boom') }, 'reconcile failed');
    await tick();
    const err = lines[0]?.err as { message: string; stack: string; type: string };
    assert.equal(err.message, 'boom');
    assert.equal(err.type, 'Error');
    assert.match(err.stack, /at .*log\.test\.ts/);
    assert.equal(lines[0]?.component, 'operator');
  });

  it('leave out what the environment does not say (a process outside Kubernetes)', () => {
    assert.deepEqual(logContext('operator', { HOSTNAME: 'laptop' }), {
      component: 'operator',
      pod: 'laptop',
    });
  });
});
