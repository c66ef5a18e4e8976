// TLS of the postgres engine: a CA generated for this store and a server certificate for the names the
// gateways dial, in one create-only Secret (ca.crt, tls.crt, tls.key). The CA's private key is not kept:
// nothing can mint another certificate this CA vouches for. Re-issue by deleting the Secret (the
// operator generates a new CA and certificate), then `kubectl rollout restart` the StatefulSet and the gateways.
import { createHash } from 'node:crypto';
import type { MemoryStoreModel, PostgresTls } from './model.ts';
import { ed25519FromSeed, issueCertificate, privateKeyPem } from './x509.ts';

/** Ten years: the certificates are never renewed by themselves (see the ADR 0017 for re-issuing). */
const VALIDITY_DAYS = 3650;

/** The names the server certificate covers: the client Service and the pod's stable name. */
export function serverHosts(m: MemoryStoreModel): string[] {
  const ns = m.namespace;
  const svc = m.names.clientService;
  const pod = `${m.names.statefulSet}-0.${m.names.headlessService}`;
  return [
    svc,
    `${svc}.${ns}`,
    `${svc}.${ns}.svc`,
    `${svc}.${ns}.svc.cluster.local`,
    `${pod}.${ns}.svc`,
    `${pod}.${ns}.svc.cluster.local`,
  ];
}

/** A seed per purpose, so one random source never gives the CA and the server the same key. */
function seed(m: MemoryStoreModel, purpose: string): Uint8Array {
  return createHash('sha256').update(purpose).update(m.randomRaw(32)).digest();
}

export function generatePostgresTls(m: MemoryStoreModel, hosts = serverHosts(m)): PostgresTls {
  const notBefore = new Date(m.now().getTime() - 60 * 60_000); // an hour of clock skew
  const notAfter = new Date(notBefore.getTime() + VALIDITY_DAYS * 86_400_000);
  const caKey = ed25519FromSeed(seed(m, 'ca'));
  const serverKey = ed25519FromSeed(seed(m, 'server'));
  const caName = `callfleet memorystore ${m.namespace}/${m.owner.name} CA`;
  const ca = issueCertificate({
    commonName: caName,
    serial: seed(m, 'ca-serial').subarray(0, 16),
    notBefore,
    notAfter,
    key: caKey,
    isCA: true,
  });
  const server = issueCertificate({
    commonName: hosts[2] ?? hosts[0] ?? 'postgres',
    serial: seed(m, 'server-serial').subarray(0, 16),
    notBefore,
    notAfter,
    key: serverKey,
    issuer: { key: caKey, commonName: caName },
    isCA: false,
    hosts,
  });
  return { 'ca.crt': ca, 'tls.crt': server, 'tls.key': privateKeyPem(serverKey) };
}
