// Generated Secrets, created once (annotation callfleet.io/create-only: the operator creates them
// if absent and never applies them again), and the connection Secret gateways read (key `url`).
import type { Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { CREATE_ONLY_ANNOTATION } from '../labels.ts';
import { type MemoryStoreModel, POSTGRES_DB, POSTGRES_PORT, POSTGRES_USER } from './model.ts';
import { generatePostgresTls } from './tls.ts';

/** TLS with verify-full: the gateways also get the CA (status.caBundle) and refuse any other server. */
export function connectionUrl(m: MemoryStoreModel, password: string): string {
  const host = `${m.names.clientService}.${m.namespace}.svc`;
  return `postgres://${POSTGRES_USER}:${encodeURIComponent(password)}@${host}:${POSTGRES_PORT}/${POSTGRES_DB}?sslmode=verify-full`;
}

function secret(
  chart: Chart,
  id: string,
  m: MemoryStoreModel,
  name: string,
  component: string,
  data: Record<string, string>,
) {
  return new kplus.Secret(chart, id, {
    metadata: { name, labels: m.labels(component), annotations: { [CREATE_ONLY_ANNOTATION]: 'true' } },
    type: 'Opaque',
    stringData: data,
  });
}

export function addPostgresSecrets(chart: Chart, m: MemoryStoreModel): void {
  if (m.ctx.existingPasswordSecret && m.ctx.password === undefined) return;
  // URL-safe: the password goes into the connection URL.
  const password =
    m.ctx.password ?? m.random(24).replace(/[+/=]/g, (c) => ({ '+': '-', '/': '_', '=': '' })[c] ?? '');
  secret(chart, 'credentials', m, m.names.credentials, 'database', { username: POSTGRES_USER, password });
  secret(chart, 'connection', m, m.names.connection, 'connection', { url: connectionUrl(m, password) });
}

/** CA, server certificate and key (create-only: generated once, re-rendered from what exists). */
export function addPostgresTlsSecret(chart: Chart, m: MemoryStoreModel): void {
  secret(chart, 'tls', m, m.names.tls, 'database', { ...(m.ctx.tls ?? generatePostgresTls(m)) });
}

export function addEncryptionSecret(chart: Chart, m: MemoryStoreModel): void {
  if (m.spec.encryption) return;
  if (m.ctx.existingEncryptionSecret && m.ctx.encryptionKey === undefined) return;
  secret(chart, 'encryption', m, m.names.encryption, 'encryption', {
    key: m.ctx.encryptionKey ?? m.random(32),
  });
}
