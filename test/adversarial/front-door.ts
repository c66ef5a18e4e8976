// The real nginx front door (test/support/nginx-config.ts, as ingress-nginx writes it) for the
// Ingress objects `callfleet render` produces, without a cluster: the backend Services' endpoints are
// given directly (the gateway under test on 127.0.0.1).
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { V1EndpointSlice, V1Ingress } from '@kubernetes/client-node';
import { NGINX_BIN } from '../support/nginx.ts';
import { buildModel, renderConfig } from '../support/nginx-config.ts';
import { freePort } from '../support/ports.ts';
import { startProcess, waitFor } from '../support/processes.ts';

export interface StaticFrontDoor {
  url: string;
  port: number;
  config: string;
  accessLog(): string;
  stop(): Promise<void>;
}

/** One ready endpoint per backend Service named in the Ingresses, all at 127.0.0.1:`port`. */
function slicesFor(ingresses: V1Ingress[], port: number): V1EndpointSlice[] {
  const services = new Set<string>();
  for (const i of ingresses)
    for (const r of i.spec?.rules ?? [])
      for (const p of r.http?.paths ?? []) if (p.backend.service) services.add(p.backend.service.name);
  return [...services].map((name) => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    addressType: 'IPv4',
    metadata: { name: `${name}-x`, labels: { 'kubernetes.io/service-name': name } },
    ports: [{ name: 'http', port, protocol: 'TCP' }],
    endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
  }));
}

export async function startFrontDoor(ingresses: V1Ingress[], gatewayPort: number): Promise<StaticFrontDoor> {
  const dir = mkdtempSync(join(tmpdir(), 'callfleet-frontdoor-'));
  mkdirSync(join(dir, 'tmp'));
  const port = await freePort();
  const model = buildModel(ingresses, slicesFor(ingresses, gatewayPort));
  const workerUser = process.getuid?.() === 0 ? 'nobody nogroup' : undefined;
  const config = renderConfig(model, { dir, port, workerUser });
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, config);
  await promisify(execFile)(NGINX_BIN, ['-t', '-q', '-p', dir, '-c', confPath]);
  const master = startProcess('nginx', NGINX_BIN, ['-p', dir, '-c', confPath], join(dir, 'nginx.out.log'));
  await waitFor('nginx to listen', () => fetch(`http://127.0.0.1:${port}/`).then(() => true), 10_000, 50);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    config,
    accessLog: () => {
      try {
        return readFileSync(join(dir, 'access.log'), 'utf8');
      } catch {
        return '';
      }
    },
    async stop() {
      await master.stop('SIGTERM', 3000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
