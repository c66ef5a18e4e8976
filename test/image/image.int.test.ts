// The shipped image, built for real (`make image`: podman, test/image/build.sh) and started in both roles the
// way a cluster runs it: as uid 10001 on a read-only root filesystem (no writable tmpfs either), host network.
// `callfleet gateway` answers a simulated Twilio call placed from the host and from the image's own
// `callfleet call`; `callfleet operator` reconciles a VoiceAgent against the local control plane.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { placeCall, speechPattern } from '../simulator/call.ts';
import { type Cluster, startCluster } from '../support/cluster.ts';
import {
  applyObjects,
  createNamespace,
  example,
  type KObject,
  kubectlOk,
  listObjects,
  waitForCrdsEstablished,
  waitForReady,
} from '../support/kube-helpers.ts';
import { freePort } from '../support/ports.ts';
import { residentMemoryMb } from '../support/proc.ts';
import { type Managed, startProcess, waitFor } from '../support/processes.ts';
import { STREAM_KEY } from '../voice-gateway/helpers.ts';

const root = new URL('../../', import.meta.url).pathname;
const exec = promisify(execFile);
const env = { ...process.env, CONTAINERS_CONF: join(root, 'test/image/containers.conf') };
const podman = (args: string[]) => exec('podman', args, { env, maxBuffer: 16 * 1024 * 1024 });
const dir = mkdtempSync(join(tmpdir(), 'callfleet-image-'));
const AUTH_TOKEN = 'image-test-auth-token';
const PUBLIC = 'https://calls.example.com';
let image = '';
const containers: string[] = [];

/** `podman run` in the foreground as the cluster would run the pod; the container's name is returned. */
function runContainer(
  role: string,
  args: string[],
  extra: string[] = [],
): { name: string; process: Managed } {
  const name = `callfleet-test-${role}-${process.pid}-${containers.length}`;
  containers.push(name);
  const process_ = startProcess(
    name,
    'podman',
    [
      'run',
      '--rm',
      `--name=${name}`,
      '--network=host',
      '--user=10001:10001',
      '--read-only',
      '--read-only-tmpfs=false',
      '--cap-drop=all',
      '--security-opt=no-new-privileges',
      '--no-healthcheck',
      // A safety net: nothing the test starts outlives it even if the runner is killed.
      '--timeout=900',
      ...extra,
      image,
      ...args,
    ],
    join(dir, `${role}.log`),
    { env },
  );
  return { name, process: process_ };
}

/** `node <args>` in a throwaway container of the image, offline, on a read-only root. */
const nodeInImage = (args: string[]) =>
  podman(['run', '--rm', '--network=none', '--read-only', '--entrypoint=node', image, ...args]);

/** The host pids of the container's processes. */
async function containerPids(name: string): Promise<number[]> {
  const { stdout } = await podman(['top', name, 'hpid']);
  return stdout.split('\n').slice(1).map(Number).filter(Boolean);
}

/** The uid of each process in the container, read from the host's /proc. */
async function containerUids(name: string): Promise<number[]> {
  return (await containerPids(name)).map((pid) =>
    Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]),
  );
}

/** The largest resident set among the container's processes (node's; tini is tiny), in MB. */
async function containerRssMb(name: string): Promise<number> {
  return Math.max(...(await containerPids(name)).map((pid) => residentMemoryMb(pid).rssMb));
}

before(async () => {
  const started = Date.now();
  const { stdout, stderr } = await exec('bash', [join(root, 'test/image/build.sh')], {
    env,
    maxBuffer: 64 * 1024 * 1024,
  });
  image = stdout.trim().split('\n').at(-1) ?? '';
  const size = Number((await podman(['image', 'inspect', '--format', '{{.Size}}', image])).stdout.trim());
  // The figures the issue asks for, printed on every run.
  console.log(
    `# image ${image}: ${(size / 1e6).toFixed(0)} MB, make image took ${((Date.now() - started) / 1000).toFixed(0)} s` +
      `\n# ${stderr.trim().split('\n').join('\n# ')}`,
  );
  assert.ok(size < 200e6, `image is ${size} bytes; keep it well under 200 MB`);
});

after(async () => {
  for (const name of containers) await podman(['rm', '--force', '--time=0', name]).catch(() => {});
});

describe('the image', { timeout: 900_000 }, () => {
  it('declares user 10001, tini as PID 1 and no dev dependency', async () => {
    const config = JSON.parse((await podman(['image', 'inspect', image])).stdout)[0].Config;
    assert.equal(config.User, '10001:10001');
    assert.deepEqual(config.Entrypoint, ['/sbin/tini', '--', 'node', 'bin/callfleet.js']);
    // Resolving a dev dependency inside the image must fail; a production one must resolve.
    const resolve = (pkg: string) => nodeInImage(['-p', `require.resolve('${pkg}')`]);
    assert.match((await resolve('ws')).stdout, /node_modules\/ws\//);
    await assert.rejects(resolve('typescript'), /Cannot find module 'typescript'/);
  });

  it('carries JavaScript, not TypeScript: no process loads the type stripper (ADR 0030)', async () => {
    const listing = await nodeInImage([
      '-e',
      "const fs=require('fs');console.log(fs.readdirSync('.',{recursive:true}).filter(f=>!f.startsWith('node_modules')).join('\\n'))",
    ]);
    const files = listing.stdout.split('\n');
    assert.deepEqual(
      files.filter((f) => /\.[cm]?ts$/.test(f)),
      [],
      'TypeScript sources in the image',
    );
    for (const f of ['bin/callfleet.js', 'operator/cli/operator.js', 'voice-gateway/cli/gateway.js'])
      assert.ok(files.includes(f), `${f} in the image`);
  });

  it('`callfleet gateway` answers simulated calls as uid 10001 on a read-only root', async () => {
    const port = await freePort();
    const internalPort = await freePort();
    writeFileSync(join(dir, 'gateway.json'), JSON.stringify({ publicBaseUrl: PUBLIC }));
    const gateway = runContainer(
      'gateway',
      ['gateway'],
      [
        `--volume=${dir}/gateway.json:/etc/callfleet/gateway.json:ro`,
        '--env=CALLFLEET_GATEWAY_CONFIG=/etc/callfleet/gateway.json',
        `--env=TWILIO_AUTH_TOKEN=${AUTH_TOKEN}`,
        `--env=CALLFLEET_STREAM_KEY=${STREAM_KEY}`,
        `--env=PORT=${port}`,
        `--env=CALLFLEET_INTERNAL_PORT=${internalPort}`,
        '--env=HOST=127.0.0.1',
      ],
    );
    try {
      await waitFor(
        'gateway /health/ready',
        async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).ok,
        60_000,
      );
      // Two doors: status on the internal port only.
      assert.equal((await fetch(`http://127.0.0.1:${internalPort}/status`)).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${port}/status`)).status, 404);
      const uids = await containerUids(gateway.name);
      assert.ok(uids.length >= 2, 'tini and node');
      assert.deepEqual(new Set(uids), new Set([10001]));
      console.log(
        `# gateway in the image, ready and idle: ${await containerRssMb(gateway.name)} MB resident`,
      );

      // From the host, as Twilio would: signed webhook, then the media stream; the echo agent greets and answers.
      const call = await placeCall({
        gatewayUrl: `http://127.0.0.1:${port}`,
        publicBaseUrl: PUBLIC,
        authToken: AUTH_TOKEN,
        audio: speechPattern(2000),
        hangupAfterMs: 3500,
      });
      assert.equal(call.kind, 'stream', call.twiml);
      assert.equal(call.greetings, 1);
      assert.ok(call.agentAudioMs > 1000, `agent audio ${call.agentAudioMs} ms`);
      assert.equal(call.invalidOutbound, 0);

      // The image's own `callfleet call` (the simulator ships in the image for smoke tests in a cluster).
      const simulator = await podman([
        'run',
        '--rm',
        '--network=host',
        '--read-only',
        '--no-healthcheck',
        `--env=TWILIO_AUTH_TOKEN=${AUTH_TOKEN}`,
        image,
        'call',
        `--url=http://127.0.0.1:${port}`,
        `--public-base-url=${PUBLIC}`,
        '--speech-ms=1500',
        '--duration=3',
      ]);
      const summary = JSON.parse(simulator.stdout);
      assert.equal(summary.kind, 'stream');
      assert.ok(summary.agentAudioMs > 500);

      // A wrong signature is refused by the containerised gateway as by any other.
      const forged = await placeCall({
        gatewayUrl: `http://127.0.0.1:${port}`,
        publicBaseUrl: PUBLIC,
        authToken: 'not-the-token',
      });
      assert.equal(forged.kind, 'rejected');
      assert.equal(forged.webhookStatus, 403);
    } finally {
      // SIGTERM through podman → tini → node: the gateway drains (no calls left) and exits 0.
      await podman(['stop', '--time=20', gateway.name]).catch(() => {});
      assert.equal(await gateway.process.exited, 0, readFileSync(gateway.process.logFile, 'utf8'));
    }
  });

  describe('`callfleet operator`', () => {
    let cluster: Cluster;
    before(async () => {
      cluster = await startCluster({ controllers: true, nodes: 1 });
      await kubectlOk(cluster, ['apply', '--server-side', '-f', `${root}crds`]);
      await waitForCrdsEstablished(cluster, 'all', 60_000);
    });
    after(async () => {
      await cluster?.stop();
    });

    it('reconciles a VoiceAgent against the control plane as uid 10001 on a read-only root', async () => {
      const port = await freePort();
      const operator = runContainer(
        'operator',
        [
          'operator',
          '--kubeconfig=/etc/callfleet/kubeconfig',
          `--metrics-addr=127.0.0.1:${port}`,
          '--lease-namespace=default',
        ],
        [`--volume=${cluster.kubeconfigPath}:/etc/callfleet/kubeconfig:ro`],
      );
      try {
        await waitFor(
          'operator /healthz',
          async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok,
          60_000,
        );
        assert.deepEqual(new Set(await containerUids(operator.name)), new Set([10001]));
        await createNamespace(cluster, 'image');
        const va = example('examples/voiceagent-echo.yaml') as KObject;
        await applyObjects(cluster, 'image', [{ ...va, metadata: { name: 'agent' } }]);
        const ready = await waitForReady(cluster, 'image', 'voiceagent/agent', 180_000);
        assert.equal(ready.status?.observedGeneration, ready.metadata.generation);
        const kinds = (await listObjects(cluster, 'image', 'deploy,svc,cm', 'callfleet.io/voiceagent=agent'))
          .map((o) => o.kind)
          .sort();
        assert.deepEqual([...new Set(kinds)], ['ConfigMap', 'Deployment', 'Service']);
        assert.match(
          await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
          /callfleet_operator_reconciles_total\{[^}]*result="success"/,
        );
      } finally {
        await podman(['stop', '--time=20', operator.name]).catch(() => {});
        assert.equal(await operator.process.exited, 0, readFileSync(operator.process.logFile, 'utf8'));
      }
    });
  });
});
