// Acceptance: the gateways refuse a database server certificate that does not match. A real PostgreSQL
// with TLS on, serving the certificate the operator generates for a postgres-engine MemoryStore, and
// impostors: a server whose certificate another CA signed (openssl, at test time) and a server whose
// certificate names another host. The gateway's pool (and its MemoryRuntime) connect only to the real one.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { parseMemoryStore } from '../../../cdk8s/api/v1alpha1/index.ts';
import { memoryStoreModel } from '../../../cdk8s/charts/memorystore/model.ts';
import { generatePostgresTls, serverHosts } from '../../../cdk8s/charts/memorystore/tls.ts';
import { runMigrate } from '../../../voice-gateway/cli/memory.ts';
import { parseGatewayConfig } from '../../../voice-gateway/config/load.ts';
import { createLogger } from '../../../voice-gateway/log.ts';
import { MemoryRuntime } from '../../../voice-gateway/memory/runtime.ts';
import { parseKeyring } from '../../../voice-gateway/memory/store/crypto.ts';
import { createPool } from '../../../voice-gateway/memory/store/pool.ts';
import { startPostgres, type TestPostgres } from '../../support/postgres.ts';
import { KEY_SPEC } from './harness.ts';

const HBA = [
  'local all all trust',
  'hostssl all all 127.0.0.1/32 trust',
  'hostnossl all all 0.0.0.0/0 reject',
  '',
].join('\n');

function store() {
  const parsed = parseMemoryStore({
    apiVersion: 'callfleet.io/v1alpha1',
    kind: 'MemoryStore',
    metadata: { name: 'callers', namespace: 'voice' },
    spec: { engine: 'postgres' },
  });
  assert.ok(parsed.ok);
  return memoryStoreModel(parsed.value, {});
}

/** A CA and a server certificate for 127.0.0.1 that the MemoryStore's CA never signed. */
function opensslImpostor(dir: string): { ca: string; cert: string; key: string } {
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const p = (f: string) => join(dir, f);
  run(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', p('ca.key')]);
  run([
    'req',
    '-x509',
    '-new',
    '-key',
    p('ca.key'),
    '-subj',
    '/CN=impostor-ca',
    '-days',
    '1',
    '-out',
    p('ca.crt'),
  ]);
  run(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', p('server.key')]);
  run(['req', '-new', '-key', p('server.key'), '-subj', '/CN=127.0.0.1', '-out', p('server.csr')]);
  execFileSync('sh', ['-c', `printf 'subjectAltName=IP:127.0.0.1\\n' > ${p('ext')}`]);
  run([
    'x509',
    '-req',
    '-in',
    p('server.csr'),
    '-CA',
    p('ca.crt'),
    '-CAkey',
    p('ca.key'),
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    p('ext'),
    '-out',
    p('server.crt'),
  ]);
  return {
    ca: readFileSync(p('ca.crt'), 'utf8'),
    cert: readFileSync(p('server.crt'), 'utf8'),
    key: readFileSync(p('server.key'), 'utf8'),
  };
}

async function sslOfOneQuery(pool: pg.Pool): Promise<boolean> {
  const r = await pool.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
  return r.rows[0]?.ssl === true;
}

describe('gateways connect verify-full and refuse a certificate that does not match', () => {
  const m = store();
  // The certificate as the operator renders it, plus 127.0.0.1 (the test server's address).
  const real = generatePostgresTls(m, [...serverHosts(m), '127.0.0.1']);
  // A store certificate for the Service names only (its own CA): dialled at 127.0.0.1 it names another host.
  const otherHost = generatePostgresTls(m, serverHosts(m));
  let dir: string;
  let impostor: ReturnType<typeof opensslImpostor>;
  let genuine: TestPostgres;
  let fake: TestPostgres;
  let misnamed: TestPostgres;
  const pools: pg.Pool[] = [];
  const pool = (url: string, ca?: string) => {
    const p = createPool(url, { max: 2, connectTimeoutMs: 3000, ...(ca ? { ca } : {}) });
    pools.push(p);
    return p;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'callfleet-tls-'));
    impostor = opensslImpostor(dir);
    genuine = await startPostgres({ tls: { cert: real['tls.crt'], key: real['tls.key'] }, hba: HBA });
    fake = await startPostgres({ tls: { cert: impostor.cert, key: impostor.key }, hba: HBA });
    misnamed = await startPostgres({
      tls: { cert: otherHost['tls.crt'], key: otherHost['tls.key'] },
      hba: HBA,
    });
  });
  after(async () => {
    for (const p of pools) await p.end().catch(() => {});
    await Promise.all([genuine?.destroy(), fake?.destroy(), misnamed?.destroy()]);
    rmSync(dir, { recursive: true, force: true });
  });

  test('with the store’s CA the pool connects over TLS, even when the URL says sslmode=disable', async () => {
    assert.equal(await sslOfOneQuery(pool(`${genuine.url}?sslmode=verify-full`, real['ca.crt'])), true);
    assert.equal(await sslOfOneQuery(pool(`${genuine.url}?sslmode=disable`, real['ca.crt'])), true);
  });

  test('the server takes no connection without TLS (pg_hba hostnossl reject)', async () => {
    await assert.rejects(pool(`${genuine.url}?sslmode=disable`).query('SELECT 1'), /no encryption|pg_hba/);
  });

  test('a wrong CA: the genuine server is refused', async () => {
    await assert.rejects(
      pool(genuine.url, impostor.ca).query('SELECT 1'),
      /self[- ]signed|unable to (get|verify)|certificate/i,
    );
  });

  test('an impostor server with a certificate from another CA is refused', async () => {
    await assert.rejects(
      pool(fake.url, real['ca.crt']).query('SELECT 1'),
      /self[- ]signed|unable to (get|verify)|certificate/i,
    );
  });

  test('a certificate from the right CA for another host name is refused', async (t) => {
    // The pool trusts exactly the CA that signed this server's certificate: only the name is wrong.
    await assert.rejects(
      pool(misnamed.url, otherHost['ca.crt']).query('SELECT 1'),
      (err: Error & { code?: string }) => {
        assert.match(
          `${err.code} ${err.message}`,
          /ERR_TLS_CERT_ALTNAME_INVALID|does not match|not in the cert/i,
        );
        return true;
      },
    );
    t.diagnostic('refused: the certificate names only the Service host names, not 127.0.0.1');
  });

  test('through a port-forward (another address), the certificate must still name the in-cluster host', async () => {
    const dial = (serverName: string) =>
      createPool(misnamed.url, { max: 1, connectTimeoutMs: 3000, ca: otherHost['ca.crt'], serverName });
    const ok = dial('callers-postgres.voice.svc');
    const wrong = dial('someone-else.voice.svc');
    pools.push(ok, wrong);
    assert.equal(await sslOfOneQuery(ok), true);
    await assert.rejects(wrong.query('SELECT 1'), /does not match|altnames/i);
  });

  test('callfleet migrate --ca-file: verify-full from the CLI too', async () => {
    const good = join(dir, 'store-ca.crt');
    const bad = join(dir, 'ca.crt'); // the impostor CA openssl wrote
    writeFileSync(good, real['ca.crt']);
    assert.equal(
      await runMigrate(['--database-url', `${genuine.url}?sslmode=disable`, '--ca-file', good]),
      0,
    );
    assert.equal(await runMigrate(['--database-url', genuine.url, '--ca-file', bad]), 1);
  });

  test('a gateway’s memory runtime with a wrong CA stays down; with the right one it comes up', async () => {
    const config = parseGatewayConfig({
      publicBaseUrl: 'https://calls.example.com',
      telephony: 'twilio-stream',
      memory: { healthCheckSeconds: 0.2 },
    });
    const log = createLogger('silent');
    const make = (ca: string) =>
      new MemoryRuntime({
        url: `${genuine.url}?sslmode=verify-full`,
        ca,
        keyring: parseKeyring(KEY_SPEC),
        config: config.memory,
        telephony: config.telephony,
        log,
      });
    const wrong = make(impostor.ca);
    const right = make(real['ca.crt']);
    wrong.start();
    right.start();
    try {
      const deadline = Date.now() + 15_000;
      while (!right.up && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.equal(right.up, true, 'the runtime with the store’s CA reaches the database');
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(wrong.up, false, 'the runtime with a wrong CA never reaches it');
    } finally {
      await wrong.shutdown(500);
      await right.shutdown(500);
    }
  });
});
