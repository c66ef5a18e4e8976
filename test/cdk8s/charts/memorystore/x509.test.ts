// The hand-built certificates: openssl verifies the chain and reads the names, Node checks host and IP,
// and the same seed and clock give the same bytes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ed25519FromSeed, issueCertificate } from '../../../../cdk8s/charts/memorystore/x509.ts';

const notBefore = new Date('2026-01-01T00:00:00Z');
const seed = (n: number) => new Uint8Array(32).fill(n);

function pair(hosts: string[], notAfter = new Date('2036-01-01T00:00:00Z')) {
  const caKey = ed25519FromSeed(seed(1));
  const ca = issueCertificate({
    commonName: 'test CA',
    serial: seed(2).subarray(0, 16),
    notBefore,
    notAfter,
    key: caKey,
    isCA: true,
  });
  const server = issueCertificate({
    commonName: hosts[0] ?? 'x',
    serial: seed(3).subarray(0, 16),
    notBefore,
    notAfter,
    key: ed25519FromSeed(seed(4)),
    issuer: { key: caKey, commonName: 'test CA' },
    isCA: false,
    hosts,
  });
  return { ca, server };
}

describe('x509', () => {
  test('openssl verifies the chain, the server certificate is for serverAuth with the names given', () => {
    const dir = mkdtempSync(join(tmpdir(), 'callfleet-x509-'));
    try {
      const { ca, server } = pair(['callers-postgres.voice.svc', '10.0.0.7']);
      writeFileSync(join(dir, 'ca.crt'), ca);
      writeFileSync(join(dir, 'server.crt'), server);
      const verify = execFileSync(
        'openssl',
        ['verify', '-purpose', 'sslserver', '-CAfile', join(dir, 'ca.crt'), join(dir, 'server.crt')],
        {
          encoding: 'utf8',
        },
      );
      assert.match(verify, /OK/);
      const text = execFileSync('openssl', ['x509', '-in', join(dir, 'server.crt'), '-noout', '-text'], {
        encoding: 'utf8',
      });
      assert.match(text, /DNS:callers-postgres\.voice\.svc, IP Address:10\.0\.0\.7/);
      assert.match(text, /CA:FALSE/);
      assert.match(
        execFileSync('openssl', ['x509', '-in', join(dir, 'ca.crt'), '-noout', '-text'], {
          encoding: 'utf8',
        }),
        /CA:TRUE/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('Node checks host names and IPs against it; another CA does not verify it', () => {
    const { ca, server } = pair(['callers-postgres.voice.svc', '10.0.0.7']);
    const cert = new X509Certificate(server);
    assert.ok(cert.verify(new X509Certificate(ca).publicKey));
    assert.equal(cert.checkHost('callers-postgres.voice.svc'), 'callers-postgres.voice.svc');
    assert.equal(cert.checkHost('other.voice.svc'), undefined);
    assert.equal(cert.checkIP('10.0.0.7'), '10.0.0.7');
    const other = issueCertificate({
      commonName: 'other',
      serial: randomBytes(16),
      notBefore,
      notAfter: new Date('2027-01-01T00:00:00Z'),
      key: ed25519FromSeed(randomBytes(32)),
      isCA: true,
    });
    assert.equal(cert.verify(new X509Certificate(other).publicKey), false);
  });

  test('deterministic: the same seeds and clock give the same certificate; validity past 2049 uses GeneralizedTime', () => {
    assert.equal(pair(['a.b']).server, pair(['a.b']).server);
    const late = new X509Certificate(pair(['a.b'], new Date('2060-06-01T00:00:00Z')).server);
    assert.equal(new Date(late.validTo).toISOString(), '2060-06-01T00:00:00.000Z');
  });
});
