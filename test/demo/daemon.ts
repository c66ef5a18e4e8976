// The demo's helper process (started detached by demo.ts): it owns the control plane, the process
// kubelet (2 process nodes: the operator, PostgreSQL and the gateways run as real processes on
// 198.18.x.y pod IPs) and nginx, which it starts as soon as the demo VoiceAgent has an Ingress. Every
// child dies with it (PR_SET_PDEATHSIG). `make demo-down` sends SIGUSR2: graceful stop, pod IPs
// removed from lo, state deleted. SIGTERM/SIGINT stop at once (children SIGKILLed, pod IPs removed).
import { rmSync } from 'node:fs';
import { startFleetEnvironment } from '../support/fleet.ts';
import type { FrontDoor } from '../support/nginx.ts';
import {
  DEMO_AGENT,
  DEMO_NAMESPACE,
  type DemoState,
  readState,
  runDir,
  stateFile,
  writeState,
} from './state.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const state: DemoState = { daemonPid: process.pid, stage: 'starting' };
const log = (message: string) => console.log(`${new Date().toISOString()} ${message}`);
writeState(state);

let stopping = false;
let stopFleet: (() => Promise<void>) | undefined;
process.on('SIGUSR2', () => {
  if (stopping) return;
  stopping = true;
  log('SIGUSR2: stopping');
  void (async () => {
    await stopFleet?.().catch((error) => log(`stop: ${String(error)}`));
    if (readState()?.daemonPid === process.pid) rmSync(stateFile, { force: true });
    log('stopped');
    process.exit(0);
  })();
});

try {
  const fleet = await startFleetEnvironment({ processNodes: 2, cluster: { baseDir: runDir } });
  stopFleet = () => fleet.stop();
  Object.assign(state, {
    stage: 'cluster',
    clusterDir: fleet.cluster.dir,
    kubeconfigPath: fleet.cluster.kubeconfigPath,
    kubeletDir: fleet.kubelet.baseDir,
  });
  writeState({ ...readState(), ...state });
  log(`control plane up: KUBECONFIG=${fleet.cluster.kubeconfigPath}`);
  fleet.kubelet.events.length = 0;

  // nginx serves the demo VoiceAgent's Ingresses; it needs one to exist to have a server to listen on.
  let door: FrontDoor | undefined;
  while (!door && !stopping) {
    const out = await fleet.cluster.kubectl([
      'get',
      'ingress',
      '-n',
      DEMO_NAMESPACE,
      '-l',
      `callfleet.io/voiceagent=${DEMO_AGENT}`,
      '-o',
      'name',
    ]);
    if (out.code === 0 && out.stdout.trim()) door = await fleet.frontDoor(DEMO_NAMESPACE, DEMO_AGENT);
    else await sleep(500);
  }
  if (door) {
    Object.assign(state, { stage: 'ready', frontDoorUrl: door.url });
    writeState({ ...readState(), ...state });
    log(`front door (nginx) on ${door.url}`);
  }
  // Keep the process kubelet's event list from growing without bound while the demo stays up.
  setInterval(() => {
    fleet.kubelet.events.length = 0;
  }, 60_000);
} catch (error) {
  log(`failed: ${String(error)}`);
  writeState({ ...state, stage: 'failed', error: String(error) });
  process.exit(1);
}
