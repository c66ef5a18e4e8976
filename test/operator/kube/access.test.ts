import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  bearerFromFile,
  fromKubeconfigFile,
  inCluster,
  loadKubeAccess,
} from '../../../operator/kube/access.ts';

const dir = mkdtempSync(join(tmpdir(), 'callfleet-access-'));
const b64 = (text: string) => Buffer.from(text).toString('base64');

function kubeconfig(name: string, user: string, cluster = ''): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    `apiVersion: v1
kind: Config
current-context: main
contexts:
- name: other
  context: {cluster: nowhere, user: nobody}
- name: main
  context: {cluster: c, user: u, namespace: team-a}
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:6443/
${cluster}users:
- name: u
  user:
${user}`,
  );
  return path;
}

async function authorized(
  authorize: (o: RequestOptions) => Promise<void>,
): Promise<{ headers: Record<string, unknown> }> {
  const options: RequestOptions = { headers: { Accept: 'application/json' } };
  await authorize(options);
  return { headers: options.headers as Record<string, unknown> };
}

test('client certificates and the CA come from the current context, inline or as files next to the kubeconfig', async () => {
  writeFileSync(join(dir, 'ca.pem'), 'CA PEM');
  const inline = await fromKubeconfigFile(
    kubeconfig(
      'inline',
      `    client-certificate-data: ${b64('CERT PEM')}\n    client-key-data: ${b64('KEY PEM')}\n`,
      '    certificate-authority: ca.pem\n',
    ),
  );
  assert.equal(inline.server, 'https://127.0.0.1:6443');
  assert.equal(inline.namespace, 'team-a');
  assert.deepEqual(inline.tls, {
    ca: 'CA PEM',
    cert: 'CERT PEM',
    key: 'KEY PEM',
    rejectUnauthorized: true,
    servername: undefined,
  });
  assert.deepEqual((await authorized(inline.authorize)).headers, { Accept: 'application/json' });
});

test('a token, or a token file read again as it rotates, becomes the Authorization header', async () => {
  const withToken = await fromKubeconfigFile(kubeconfig('token', '    token: abc\n'));
  assert.deepEqual((await authorized(withToken.authorize)).headers, {
    Accept: 'application/json',
    Authorization: 'Bearer abc',
  });
  writeFileSync(join(dir, 'token-file'), 'first\n');
  const withFile = await fromKubeconfigFile(
    kubeconfig('token-file-config', '    tokenFile: token-file\n', '    insecure-skip-tls-verify: true\n'),
  );
  assert.equal(withFile.tls.rejectUnauthorized, false);
  assert.equal((await authorized(withFile.authorize)).headers.Authorization, 'Bearer first');
  writeFileSync(join(dir, 'token-file'), 'second\n');
  assert.equal(
    (await authorized(withFile.authorize)).headers.Authorization,
    'Bearer first',
    'cached for a minute',
  );
  const rereadEveryTime = bearerFromFile(join(dir, 'token-file'), 0);
  assert.equal((await authorized(rereadEveryTime)).headers.Authorization, 'Bearer second');
  writeFileSync(join(dir, 'token-file'), 'third\n');
  assert.equal((await authorized(rereadEveryTime)).headers.Authorization, 'Bearer third');
});

test('in a pod: the service host and port, the mounted CA, namespace and token', async () => {
  const sa = mkdtempSync(join(tmpdir(), 'callfleet-sa-'));
  writeFileSync(join(sa, 'ca.crt'), 'CLUSTER CA');
  writeFileSync(join(sa, 'namespace'), 'callfleet-system\n');
  writeFileSync(join(sa, 'token'), 'projected-token\n');
  const access = inCluster(sa, { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' });
  assert.equal(access.server, 'https://[fd00::1]:443');
  assert.equal(access.namespace, 'callfleet-system');
  assert.equal(access.tls.ca, 'CLUSTER CA');
  assert.equal((await authorized(access.authorize)).headers.Authorization, 'Bearer projected-token');
  assert.throws(() => inCluster(sa, {}), /not in a pod \(KUBERNETES_SERVICE_HOST is unset\)/);
});

test('a plugin (exec, as on EKS) is handed to client-node, which runs it per request', async () => {
  const path = kubeconfig(
    'exec',
    '    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: /bin/echo\n      args: [\'{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"from-plugin"}}\']\n',
  );
  const access = await loadKubeAccess(path);
  assert.equal(access.server, 'https://127.0.0.1:6443');
  assert.equal(access.namespace, 'team-a');
  assert.equal((await authorized(access.authorize)).headers.Authorization, 'Bearer from-plugin');
});

test('a broken kubeconfig names what is missing', async () => {
  const noContext = join(dir, 'no-context');
  writeFileSync(noContext, 'apiVersion: v1\nkind: Config\nclusters: []\n');
  await assert.rejects(fromKubeconfigFile(noContext), /no-context: no current-context/);
  const wrong = join(dir, 'wrong');
  writeFileSync(wrong, 'current-context: gone\ncontexts: []\n');
  await assert.rejects(fromKubeconfigFile(wrong), /wrong: no context named "gone" \(contexts\)/);
});
