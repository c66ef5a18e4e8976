// A minimal X.509 issuer for the postgres engine's TLS: a CA and one server certificate, Ed25519,
// DER-encoded by hand (node:crypto signs but does not build certificates). Ed25519 because both its
// keys (from a 32-byte seed) and its signatures are deterministic: the render is a pure function of
// the render context's randomness and clock, so goldens and the API contract test stay stable.
import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign } from 'node:crypto';
import { isIPv4 } from 'node:net';

const len = (n: number): Buffer => {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
};
const tlv = (tag: number, ...content: Buffer[]): Buffer => {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
};
const seq = (...c: Buffer[]) => tlv(0x30, ...c);
const set = (...c: Buffer[]) => tlv(0x31, ...c);
const oid = (dotted: string): Buffer => {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const out = [40 * a + b];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >> 7; v > 0; v >>= 7) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
};
const integer = (bytes: Buffer): Buffer => {
  let b = bytes;
  while (b.length > 1 && b[0] === 0 && ((b[1] ?? 0) & 0x80) === 0) b = b.subarray(1);
  if (((b[0] ?? 0) & 0x80) !== 0) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
};
const bitString = (bytes: Buffer, unused = 0) => tlv(0x03, Buffer.from([unused]), bytes);
const octets = (bytes: Buffer) => tlv(0x04, bytes);
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));

function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  const year = d.getUTCFullYear();
  return year < 2050
    ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`, 'ascii'))
    : tlv(0x18, Buffer.from(`${iso}Z`, 'ascii'));
}

const ED25519 = seq(oid('1.3.101.112'));
const name = (cn: string) => seq(set(seq(oid('2.5.4.3'), utf8(cn))));
const extension = (id: string, critical: boolean, value: Buffer) =>
  seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

/** An Ed25519 key from a 32-byte seed (PKCS#8 wrapping of the seed, RFC 8410). */
export function ed25519FromSeed(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new Error('an Ed25519 seed is 32 bytes');
  const prefix = Buffer.from('302e020100300506032b657004220420', 'hex');
  return createPrivateKey({ key: Buffer.concat([prefix, seed]), format: 'der', type: 'pkcs8' });
}

function spki(key: KeyObject): Buffer {
  return createPublicKey(key).export({ format: 'der', type: 'spki' }) as Buffer;
}

/** SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2, method 1). */
function keyId(key: KeyObject): Buffer {
  const der = spki(key);
  return createHash('sha1')
    .update(der.subarray(der.length - 32))
    .digest();
}

function subjectAltNames(hosts: string[]): Buffer {
  return seq(
    ...hosts.map((h) =>
      isIPv4(h) ? tlv(0x87, Buffer.from(h.split('.').map(Number))) : tlv(0x82, Buffer.from(h, 'ascii')),
    ),
  );
}

export interface CertificateRequest {
  commonName: string;
  serial: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** The certificate's key. */
  key: KeyObject;
  /** The issuer's key and name (self-signed when absent). */
  issuer?: { key: KeyObject; commonName: string };
  isCA: boolean;
  /** DNS names and IPv4 addresses (serverAuth certificates). */
  hosts?: string[];
}

export function issueCertificate(r: CertificateRequest): string {
  const issuerKey = r.issuer?.key ?? r.key;
  const extensions = [
    extension('2.5.29.19', true, r.isCA ? seq(bool(true)) : seq()),
    // keyCertSign + cRLSign for the CA; digitalSignature for the server.
    extension(
      '2.5.29.15',
      true,
      r.isCA ? bitString(Buffer.from([0x06]), 1) : bitString(Buffer.from([0x80]), 7),
    ),
    extension('2.5.29.14', false, octets(keyId(r.key))),
    extension('2.5.29.35', false, seq(tlv(0x80, keyId(issuerKey)))),
  ];
  if (!r.isCA) {
    extensions.push(extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))));
    extensions.push(extension('2.5.29.17', false, subjectAltNames(r.hosts ?? [])));
  }
  const serial = Buffer.from(r.serial);
  serial[0] = (serial[0] ?? 0) & 0x7f; // positive
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))),
    integer(serial),
    ED25519,
    name(r.issuer?.commonName ?? r.commonName),
    seq(time(r.notBefore), time(r.notAfter)),
    name(r.commonName),
    spki(r.key),
    tlv(0xa3, seq(...extensions)),
  );
  const signature = sign(null, tbs, issuerKey);
  const der = seq(tbs, ED25519, bitString(signature));
  return pem('CERTIFICATE', der);
}

export function privateKeyPem(key: KeyObject): string {
  return key.export({ format: 'pem', type: 'pkcs8' }).toString();
}

function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
