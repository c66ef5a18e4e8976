// Pod IPs for the process kubelet: /32 addresses on the loopback interface, taken from 198.18.0.0/15
// (RFC 2544, reserved for benchmarking, so never a real network's address). Loopback addresses
// (127.0.0.0/8) would need no setup, but the API server refuses them in EndpointSlices and Endpoints
// ("may not be in the loopback range"), so Services could never reach the pods (ADR 0005).
//
// Each address carries the label `lo:cf<pid>` of the test process that added it: addresses left by a
// process that no longer exists (SIGKILLed runner) are removed by the next allocator; concurrent test
// runs never take each other's addresses (`ip addr add` fails with "File exists" on a taken one).
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const POD_IP_PREFIX = '198.18';
const LABEL_PREFIX = 'lo:cf';

const mine = new Set<string>();
let hooked = false;

function label(pid = process.pid): string {
  return `${LABEL_PREFIX}${pid}`;
}

interface Assigned {
  ip: string;
  label: string;
}

async function assigned(): Promise<Assigned[]> {
  const { stdout } = await run('ip', ['-4', '-o', 'addr', 'show', 'dev', 'lo']);
  const out: Assigned[] = [];
  for (const line of stdout.split('\n')) {
    const m = /inet (\d+\.\d+\.\d+\.\d+)\/\d+ .*scope \w+ ([^\s\\]+)/.exec(line);
    if (m?.[1] && m[2]) out.push({ ip: m[1], label: m[2] });
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes addresses of ours whose owning process has gone. */
async function collectStale(): Promise<void> {
  for (const a of await assigned()) {
    if (!a.ip.startsWith(`${POD_IP_PREFIX}.`) || !a.label.startsWith(LABEL_PREFIX)) continue;
    const pid = Number(a.label.slice(LABEL_PREFIX.length));
    if (Number.isInteger(pid) && pid !== process.pid && !alive(pid)) {
      await run('ip', ['addr', 'del', `${a.ip}/32`, 'dev', 'lo']).catch(() => {});
    }
  }
}

function installExitHook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const ip of mine) {
      try {
        execFileSync('ip', ['addr', 'del', `${ip}/32`, 'dev', 'lo'], { stdio: 'ignore' });
      } catch {
        // best effort at exit; the next allocator collects what is left
      }
    }
  });
}

let collected = false;

/**
 * Adds a free address 198.18.<subnet>.<2..254> to lo and returns it. Needs CAP_NET_ADMIN (root in
 * the test container); the error says so when it is missing.
 */
export async function allocatePodIp(subnet: number): Promise<string> {
  installExitHook();
  if (!collected) {
    collected = true;
    await collectStale();
  }
  const taken = new Set((await assigned()).map((a) => a.ip));
  for (let host = 2; host < 255; host++) {
    const ip = `${POD_IP_PREFIX}.${subnet}.${host}`;
    if (taken.has(ip)) continue;
    try {
      await run('ip', ['addr', 'add', `${ip}/32`, 'dev', 'lo', 'label', label()]);
      mine.add(ip);
      return ip;
    } catch (error) {
      const stderr = String((error as { stderr?: string }).stderr ?? error);
      if (/exists|already assigned/i.test(stderr)) continue;
      throw new Error(
        `cannot add pod IP ${ip} to lo (the process kubelet needs CAP_NET_ADMIN, e.g. root): ${stderr.trim()}`,
      );
    }
  }
  throw new Error(`no free pod IP left in ${POD_IP_PREFIX}.${subnet}.0/24`);
}

export async function releasePodIp(ip: string): Promise<void> {
  if (!mine.delete(ip)) return;
  await run('ip', ['addr', 'del', `${ip}/32`, 'dev', 'lo']).catch(() => {});
}
