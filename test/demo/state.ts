// Where `make demo` keeps what it started (~/.cache/callfleet/run/demo.json), so `make demo-down` and a
// person poking at the running system can find it.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** CALLFLEET_DEMO_RUN_DIR: a demo of its own (the e2e test), next to a person's running demo. */
export const runDir =
  process.env.CALLFLEET_DEMO_RUN_DIR ??
  join(process.env.CALLFLEET_CACHE ?? join(homedir(), '.cache', 'callfleet'), 'run');
export const stateFile = join(runDir, 'demo.json');
export const daemonLog = join(runDir, 'demo-daemon.log');

export const DEMO_NAMESPACE = 'demo';
export const DEMO_AGENT = 'receptionist';
export const OPERATOR_NAMESPACE = 'callfleet-system';

export interface DemoState {
  /** The helper process that owns the control plane, the process kubelet and nginx. */
  daemonPid: number;
  stage: 'starting' | 'cluster' | 'ready' | 'failed';
  error?: string;
  clusterDir?: string;
  kubeconfigPath?: string;
  kubeletDir?: string;
  frontDoorUrl?: string;
  /** Filled in by the demo script. */
  summary?: Record<string, unknown>;
}

export function readState(): DemoState | undefined {
  if (!existsSync(stateFile)) return undefined;
  try {
    return JSON.parse(readFileSync(stateFile, 'utf8')) as DemoState;
  } catch {
    return undefined;
  }
}

export function writeState(state: DemoState): void {
  mkdirSync(runDir, { recursive: true });
  writeFileSync(`${stateFile}.tmp`, JSON.stringify(state, null, 2));
  renameSync(`${stateFile}.tmp`, stateFile);
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
