// A real nginx (Debian's /usr/sbin/nginx) as the cluster's front door: it reads the Ingress objects
// of a namespace (optionally by label selector) and the EndpointSlices of their backend Services,
// writes nginx.conf the way ingress-nginx would for those annotations (nginx-config.ts), and reloads
// (SIGHUP to the master) only when the generated config changes, i.e. when the set of ready endpoints
// changes. Runs with its own prefix dir, `daemon off`, on 127.0.0.1:<free port>.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KubeConfig, V1EndpointSlice, V1Ingress } from '@kubernetes/client-node';
import { KubeRest } from '../../operator/kube/rest.ts';
import { type Backend, buildModel, renderConfig } from './nginx-config.ts';
import { freePort } from './ports.ts';
import { startProcess, waitFor } from './processes.ts';

const run = promisify(execFile);
export const NGINX_BIN = process.env.CALLFLEET_NGINX_BIN ?? '/usr/sbin/nginx';

export interface NginxOptions {
  kc: KubeConfig;
  namespace: string;
  /** Label selector for the Ingresses to serve (e.g. `callfleet.io/voiceagent=echo`). */
  ingressSelector?: string;
  baseDir?: string;
  pollMs?: number;
}

export interface FrontDoor {
  /** http://127.0.0.1:<port> */
  url: string;
  /** ws://127.0.0.1:<port> */
  wsUrl: string;
  dir: string;
  /** How many times the config was (re)loaded after the first start. */
  reloads(): number;
  /** The upstreams of the config nginx is running now. */
  upstreams(): Backend[];
  config(): string;
  /** Re-reads Ingresses and EndpointSlices now and reloads when needed. */
  sync(): Promise<void>;
  /** Waits until the running config's servers for a backend Service satisfy `check`. */
  waitForServers(service: string, check: (servers: string[]) => boolean, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startNginx(o: NginxOptions): Promise<FrontDoor> {
  if (!existsSync(NGINX_BIN)) throw new Error(`${NGINX_BIN} not found: run bash test/support/system-deps.sh`);
  const rest = new KubeRest(o.kc, { timeoutMs: 10_000 });
  const dir = mkdtempSync(join(o.baseDir ?? tmpdir(), 'callfleet-nginx-'));
  chmodSync(dir, 0o755); // workers (nobody, when we are root) read nothing here but must traverse
  mkdirSync(join(dir, 'tmp'));
  const port = await freePort();
  const confPath = join(dir, 'nginx.conf');
  const workerUser = process.getuid?.() === 0 ? 'nobody nogroup' : undefined;
  let current = '';
  let applied: Backend[] = [];
  let reloads = 0;

  const generate = async () => {
    const q = o.ingressSelector ? `?labelSelector=${encodeURIComponent(o.ingressSelector)}` : '';
    const ingresses = (
      await rest.get<{ items: V1Ingress[] }>(
        `/apis/networking.k8s.io/v1/namespaces/${o.namespace}/ingresses${q}`,
      )
    ).items.filter((i) => (i.spec?.ingressClassName ?? 'nginx') === 'nginx');
    const slices = (
      await rest.get<{ items: V1EndpointSlice[] }>(
        `/apis/discovery.k8s.io/v1/namespaces/${o.namespace}/endpointslices`,
      )
    ).items;
    const model = buildModel(ingresses, slices);
    return { text: renderConfig(model, { dir, port, workerUser }), upstreams: [...model.upstreams.values()] };
  };

  const first = await generate();
  writeFileSync(confPath, first.text);
  await run(NGINX_BIN, ['-t', '-q', '-p', dir, '-c', confPath]);
  current = first.text;
  applied = first.upstreams;
  const master = startProcess('nginx', NGINX_BIN, ['-p', dir, '-c', confPath], join(dir, 'nginx.out.log'));
  await waitFor('nginx to listen', () => fetch(`http://127.0.0.1:${port}/`).then(() => true), 10_000, 50);

  let syncing: Promise<void> | undefined;
  const syncOnce = async () => {
    const next = await generate();
    if (next.text === current) return;
    const candidate = join(dir, 'nginx.next.conf');
    writeFileSync(candidate, next.text);
    try {
      await run(NGINX_BIN, ['-t', '-q', '-p', dir, '-c', candidate]);
    } catch (error) {
      console.error(`[nginx] generated config rejected, keeping the old one: ${String(error)}`);
      return;
    }
    writeFileSync(confPath, next.text);
    current = next.text;
    applied = next.upstreams;
    reloads++;
    master.child.kill('SIGHUP');
  };
  const sync = () => {
    syncing ??= syncOnce().finally(() => {
      syncing = undefined;
    });
    return syncing;
  };

  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await sync().catch((error) => {
        if (!stopped) console.error(`[nginx] sync: ${String(error)}`);
      });
      await new Promise((resolve) => setTimeout(resolve, o.pollMs ?? 250));
    }
  })();

  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    dir,
    reloads: () => reloads,
    upstreams: () => applied,
    config: () => readFileSync(confPath, 'utf8'),
    sync,
    async waitForServers(service, check, timeoutMs = 30_000) {
      await waitFor(
        `nginx servers of ${service}`,
        async () => {
          const mine = applied.filter((u) => u.name.includes(`-${service}-`));
          return mine.length > 0 && mine.every((u) => check(u.servers));
        },
        timeoutMs,
        50,
      );
      // SIGHUP is asynchronous: give the master a moment to start the new workers.
      await new Promise((resolve) => setTimeout(resolve, 150));
    },
    async stop() {
      stopped = true;
      await loop;
      // SIGQUIT would wait for live WebSockets (worker_shutdown_timeout); a test is done with them.
      await master.stop('SIGTERM', 3000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
