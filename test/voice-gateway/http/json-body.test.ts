import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseJsonBody } from '../../../voice-gateway/http/json-body.ts';
import { auditQuery, callerRequestBody } from '../../../voice-gateway/memory/http/data-rights-api.ts';
import {
  conversationInitBody,
  postCallData,
  searchMemoryBody,
} from '../../../voice-gateway/memory/http/elevenlabs-webhooks.ts';

const body = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
const errorOf = (r: { ok: boolean; error?: string }) => (r.ok ? 'ok' : r.error);

describe('JSON bodies checked with zod: the error names the field', () => {
  it('not JSON, or JSON of the wrong shape', () => {
    assert.equal(errorOf(parseJsonBody(body('not json'), conversationInitBody, 'body: nope')), 'body: nope');
    assert.equal(errorOf(parseJsonBody(body([1]), conversationInitBody)), 'body: expected a JSON object');
    assert.equal(errorOf(parseJsonBody(body('{}'), callerRequestBody)), 'phone: required (E.164)');
  });
  it('ElevenLabs search-memory: query first, then a caller', () => {
    assert.equal(errorOf(parseJsonBody(body({}), searchMemoryBody)), 'query: required');
    assert.equal(errorOf(parseJsonBody(body({ query: '  ' }), searchMemoryBody)), 'query: required');
    assert.equal(
      errorOf(parseJsonBody(body({ query: 'x', caller_id: ' ' }), searchMemoryBody)),
      'callfleet_caller_id or caller_id: required',
    );
    const ok = parseJsonBody(body({ query: ' x ', caller_id: '+1', limit: 'many' }), searchMemoryBody);
    assert.deepEqual(ok.ok && [ok.value.query, ok.value.caller_id, ok.value.limit], ['x', '+1', 5]);
  });
  it('ElevenLabs post-call data: lenient except the conversation id', () => {
    const bad = postCallData.safeParse({ metadata: 'x' });
    assert.equal(bad.success, false);
    assert.deepEqual(bad.error?.issues[0]?.path, ['conversation_id']);
    const ok = postCallData.parse({ conversation_id: ' c1 ', metadata: 7, transcript: 'x' });
    assert.equal(ok.conversation_id, 'c1');
    assert.equal(ok.metadata.call_duration_secs, 0);
    assert.deepEqual(ok.transcript, []);
  });
  it('data-rights audit query and forget body', () => {
    assert.deepEqual(auditQuery.parse({ limit: '10', action: 'forget' }), { limit: 10, action: 'forget' });
    for (const limit of ['0', '1.5', 'x', ''])
      assert.equal(auditQuery.safeParse({ limit }).error?.issues[0]?.message, 'a positive integer');
    assert.equal(
      auditQuery.safeParse({ limit: '1', action: 'x' }).error?.issues[0]?.message,
      'forget or export',
    );
    assert.deepEqual(callerRequestBody.parse({ phone: '+1', actor: '' }), { phone: '+1', actor: 'api' });
  });
});
