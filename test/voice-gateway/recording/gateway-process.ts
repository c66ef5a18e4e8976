// A real gateway process (`node bin/callfleet.ts gateway`) for the object-storage tests, on 127.0.0.1
// with free ports, its config file and log in a temp dir.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CallOptions, type SimulatedCall, startCall } from '../../simulator/call.ts';
import { type Managed, startProcess, waitFor } from '../../support/processes.ts';
import { ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL, STREAM_KEY } from '../helpers.ts';

const root = new URL('../../../', import.meta.url).pathname;

export interface GatewayProcess {
  url: string;
  internalUrl: string;
  proc: Managed;
  logFile: string;
  metric(name: string): Promise<number>;
  call(from: string, o?: Partial<CallOptions>): Promise<SimulatedCall>;
  stop(): Promise<void>;
}

export async function spawnGateway(
  name: string,
  config: Record<string, unknown>,
  env: Record<string, string>,
): Promise<GatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), `callfleet-${name}-`));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ publicBaseUrl: PUBLIC_BASE_URL, ...config }));
  const logFile = join(dir, 'gateway.log');
  const proc = startProcess(name, process.execPath, [join(root, 'bin/callfleet.ts'), 'gateway'], logFile, {
    env: {
      CALLFLEET_GATEWAY_CONFIG: file,
      PORT: '0',
      CALLFLEET_INTERNAL_PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      TWILIO_AUTH_TOKEN: AUTH_TOKEN,
      CALLFLEET_STREAM_KEY: STREAM_KEY,
      TWILIO_ACCOUNT_SID: ACCOUNT_SID,
      ...env,
    },
  });
  let port = 0;
  let internalPort = 0;
  await waitFor(
    `gateway ${name} to listen`,
    async () => {
      if (proc.child.exitCode !== null) throw new Error(readFileSync(logFile, 'utf8'));
      const log = readFileSync(logFile, 'utf8');
      port = Number(/"port":(\d+)/.exec(log)?.[1] ?? 0);
      internalPort = Number(/"internalPort":(\d+)/.exec(log)?.[1] ?? 0);
      return port > 0 && internalPort > 0;
    },
    30_000,
    50,
  );
  const url = `http://127.0.0.1:${port}`;
  const internalUrl = `http://127.0.0.1:${internalPort}`;
  return {
    url,
    internalUrl,
    proc,
    logFile,
    async metric(metric) {
      const text = await (await fetch(`${internalUrl}/metrics`)).text();
      let sum = 0;
      for (const line of text.split('\n')) {
        if (line.startsWith(`${metric} `) || line.startsWith(`${metric}{`))
          sum += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
      return sum;
    },
    call: (from, o = {}) =>
      startCall({ gatewayUrl: url, publicBaseUrl: PUBLIC_BASE_URL, authToken: AUTH_TOKEN, from, ...o }),
    stop: () => proc.stop('SIGTERM', 10_000),
  };
}
