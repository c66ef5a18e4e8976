// `make cluster` / `make cluster-down`: the test control plane, kept running for a person.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { startCluster } from '../support/cluster.ts';

const stateDir = join(process.env.CALLFLEET_CACHE ?? join(homedir(), '.cache', 'callfleet'), 'run');
const stateFile = join(stateDir, 'cluster.json');

interface State {
  dir: string;
  kubeconfigPath: string;
  pids: number[];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function down(): Promise<void> {
  if (!existsSync(stateFile)) {
    console.log('no local cluster is running');
    return;
  }
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as State;
  for (const pid of [...state.pids].reverse()) if (alive(pid)) process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (state.pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const pid of state.pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(state.dir, { recursive: true, force: true });
  rmSync(stateFile, { force: true });
  console.log('local cluster stopped');
}

async function up(): Promise<void> {
  if (existsSync(stateFile)) {
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as State;
    if (state.pids.every(alive)) {
      console.log(`a local cluster is already running:\nexport KUBECONFIG=${state.kubeconfigPath}`);
      return;
    }
    await down();
  }
  const started = Date.now();
  const cluster = await startCluster({ controllers: true, nodes: 3, detached: true, baseDir: stateDir });
  const pids = [...cluster.processes.values()]
    .map((p) => p.child.pid)
    .filter((pid): pid is number => pid !== undefined);
  writeFileSync(
    stateFile,
    JSON.stringify({ dir: cluster.dir, kubeconfigPath: cluster.kubeconfigPath, pids }, null, 2),
  );
  console.error(
    `control plane up in ${((Date.now() - started) / 1000).toFixed(1)} s (logs in ${cluster.dir})`,
  );
  console.log(`export KUBECONFIG=${cluster.kubeconfigPath}`);
  process.exit(0);
}

const command = process.argv[2];
if (command === 'up') await up();
else if (command === 'down') await down();
else {
  console.error('usage: node test/cluster/cli.ts up|down');
  process.exit(2);
}
