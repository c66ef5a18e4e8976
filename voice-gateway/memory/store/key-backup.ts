// Backing up the encryption keyring itself. Without the keys every backup and recording is noise, so
// the keyring gets its own backup that does not depend on the cluster: a small JSON file, sealed with
// a passphrase (scrypt → AES-256-GCM), to be kept offline or in a secret manager, never in the same
// bucket as the backups. `callfleet memory keys export` writes it; `keys import` opens it again and
// prints the keyring or a Secret manifest to re-create the encryption Secret.
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { z } from 'zod';
import { parseKeyring } from './crypto.ts';

const FORMAT = 'callfleet-keyring-backup';
const N = 1 << 15;
const R = 8;
const P = 1;

const keyringBackupSchema = z.object({
  format: z.literal(FORMAT),
  version: z.literal(1),
  createdAt: z.string(),
  keyIds: z.array(z.string()),
  kdf: z.object({
    name: z.literal('scrypt'),
    N: z.number().int().positive(),
    r: z.number().int().positive(),
    p: z.number().int().positive(),
    salt: z.string(),
  }),
  iv: z.string(),
  tag: z.string(),
  ciphertext: z.string(),
});
export type KeyringBackup = z.infer<typeof keyringBackupSchema>;

/** What makes a file a keyring backup at all (checked before its fields). */
const identitySchema = z.object({
  format: z.literal(FORMAT),
  version: z.literal(1),
  kdf: z.object({ name: z.literal('scrypt') }),
});

function derive(passphrase: string, salt: Buffer, n = N, r = R, p = P): Buffer {
  if (passphrase.length < 12) throw new Error('passphrase: at least 12 characters');
  return scryptSync(passphrase, salt, 32, { N: n, r, p, maxmem: 256 * n * r });
}

export function sealKeyring(keyringSpec: string, passphrase: string, now = new Date()): KeyringBackup {
  const ring = parseKeyring(keyringSpec); // refuses a malformed keyring before it is sealed
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', derive(passphrase, salt), iv);
  c.setAAD(Buffer.from(FORMAT));
  const ciphertext = Buffer.concat([c.update(keyringSpec, 'utf8'), c.final()]);
  return {
    format: FORMAT,
    version: 1,
    createdAt: now.toISOString(),
    keyIds: ring.keys.map((k) => k.id),
    kdf: { name: 'scrypt', N, r: R, p: P, salt: salt.toString('base64') },
    iv: iv.toString('base64'),
    tag: c.getAuthTag().toString('base64'),
    ciphertext: ciphertext.toString('base64'),
  };
}

export function openKeyring(file: string, passphrase: string): string {
  let json: unknown;
  try {
    json = JSON.parse(file);
  } catch {
    throw new Error('key backup: not JSON');
  }
  if (!identitySchema.safeParse(json).success) {
    throw new Error('key backup: not a callfleet keyring backup (format/version)');
  }
  const parsed = keyringBackupSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`key backup: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  const b = parsed.data;
  const key = derive(passphrase, Buffer.from(b.kdf.salt, 'base64'), b.kdf.N, b.kdf.r, b.kdf.p);
  const d = createDecipheriv('aes-256-gcm', key, Buffer.from(b.iv, 'base64'));
  d.setAAD(Buffer.from(FORMAT));
  d.setAuthTag(Buffer.from(b.tag, 'base64'));
  let spec: string;
  try {
    spec = Buffer.concat([d.update(Buffer.from(b.ciphertext, 'base64')), d.final()]).toString('utf8');
  } catch {
    throw new Error('key backup: wrong passphrase or damaged file');
  }
  parseKeyring(spec);
  return spec;
}

/** A Secret manifest holding the keyring, for `kubectl apply -f -`. */
export function keyringSecretManifest(name: string, namespace: string | undefined, spec: string): string {
  const ns = namespace ? `\n  namespace: ${namespace}` : '';
  return `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}${ns}\ntype: Opaque\ndata:\n  key: ${Buffer.from(spec).toString('base64')}\n`;
}
