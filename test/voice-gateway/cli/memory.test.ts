// `callfleet memory export|forget|audit` as processes, and the gateway-side data-rights API.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createDataRightsApi } from '../../../voice-gateway/memory/http/data-rights-api.ts';
import { runMemoryCli as cli } from '../memory/callfleet-cli.ts';
import { callRecord, harnessForTests, KEY_SPEC, phoneForms } from '../memory/harness.ts';

const harness = harnessForTests();

describe('callfleet memory', () => {
  test('export, forget and audit from the command line', async () => {
    const store = harness().store();
    const phone = '+14155550401';
    store.record(callRecord(phone, { summary: 'Asked for the quokka brochure' }));
    store.record(callRecord('+14155550402', { summary: 'Someone else entirely' }));
    await store.flush(5000);
    const env = { CALLFLEET_MEMORY_URL: harness().pg.url, CALLFLEET_ENCRYPTION_KEY: KEY_SPEC };

    const exported = await cli(['export', '--phone', phone], env);
    assert.equal(exported.code, 0, exported.stderr);
    const doc = JSON.parse(exported.stdout);
    assert.equal(doc.caller.phone, phone);
    assert.equal(doc.memories[0].text, 'Asked for the quokka brochure');
    assert.ok(!exported.stdout.includes('Someone else'));

    const forgotten = await cli(['forget', '--phone', phone, '--actor', 'dpo@example.com'], env);
    assert.equal(forgotten.code, 0, forgotten.stderr);
    assert.equal(JSON.parse(forgotten.stdout).counts.callers, 1);
    for (const form of phoneForms(phone)) assert.ok(!forgotten.stdout.includes(form));

    const audit = await cli(['audit', '--action', 'forget', '--database-url', harness().pg.url]);
    assert.equal(audit.code, 0, audit.stderr);
    const entries = JSON.parse(audit.stdout);
    assert.equal(entries.length, 1);
    assert.equal(entries[0].actor, 'dpo@example.com');
    for (const form of phoneForms(phone)) assert.ok(!audit.stdout.includes(form));

    const gone = await cli(['export', '--phone', phone], env);
    assert.equal(gone.code, 3);
    assert.equal(JSON.parse(gone.stdout).found, false);
  });

  test('clear errors for missing inputs', async () => {
    const noUrl = await cli(['export', '--phone', '+14155550401']);
    assert.equal(noUrl.code, 2);
    assert.match(noUrl.stderr, /--database-url, --store NAME or CALLFLEET_MEMORY_URL: required/);
    const noKubeconfig = await cli(['audit', '--store', 'memory', '--kubeconfig', '/nonexistent/kubeconfig']);
    assert.equal(noKubeconfig.code, 1);
    assert.match(noKubeconfig.stderr, /--kubeconfig \/nonexistent\/kubeconfig/);
    const unresolvable = await cli([
      'audit',
      '--database-url',
      'postgres://u:hunter2secret@callers-postgres.calls.svc:5432/callfleet',
    ]);
    assert.equal(unresolvable.code, 1);
    assert.match(
      unresolvable.stderr,
      /callers-postgres\.calls\.svc .*does not resolve.*--host 127\.0\.0\.1:5432/,
    );
    assert.ok(!unresolvable.stderr.includes('hunter2secret'), 'no password in the error');
    const noKey = await cli(['export', '--phone', '+14155550401', '--database-url', harness().pg.url]);
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /--encryption-key, --store NAME or CALLFLEET_ENCRYPTION_KEY/);
    const noPhone = await cli(['forget', '--database-url', harness().pg.url]);
    assert.equal(noPhone.code, 2);
    assert.match(noPhone.stderr, /--phone: required/);
    const bad = await cli(['frobnicate', '--database-url', harness().pg.url]);
    assert.equal(bad.code, 2);
  });

  test('gateway data-rights API behind a bearer token', async () => {
    const api = createDataRightsApi({ pool: harness().pool, keyring: harness().keyring, token: 's3cret' });
    const store = harness().store();
    const phone = '+14155550403';
    store.record(callRecord(phone, { summary: 'API test caller' }));
    await store.flush(5000);
    const body = Buffer.from(JSON.stringify({ phone, actor: 'dsr-bot' }));
    assert.equal(await api('GET', '/health', Buffer.alloc(0), {}), undefined);
    assert.equal((await api('POST', '/memory/export', body, {}))?.status, 401);
    assert.equal((await api('POST', '/memory/export', body, { authorization: 'Bearer wrong' }))?.status, 401);
    const auth = { authorization: 'Bearer s3cret' };
    const exported = await api('POST', '/memory/export', body, auth);
    assert.equal(exported?.status, 200);
    assert.equal((exported?.body as { caller: { phone: string } } | undefined)?.caller.phone, phone);
    const forgotten = await api('POST', '/memory/forget', body, auth);
    assert.equal(forgotten?.status, 200);
    const audit = await api('GET', '/memory/audit?action=forget', Buffer.alloc(0), auth);
    assert.ok(((audit?.body ?? []) as { actor: string }[]).some((e) => e.actor === 'dsr-bot'));
    assert.equal((await api('POST', '/memory/export', Buffer.from('{"phone":"nope"}'), auth))?.status, 400);
    const disabled = createDataRightsApi({ pool: harness().pool, keyring: harness().keyring });
    assert.equal((await disabled('POST', '/memory/export', body, auth))?.status, 404);
  });
});
