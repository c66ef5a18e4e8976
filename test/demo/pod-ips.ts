// `make demo-down` after the helper is gone: pod IPs it left on lo (labelled lo:cf<pid>, see
// test/support/pod-ips.ts) are removed, so a SIGKILLed helper leaves nothing behind either.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { POD_IP_PREFIX } from '../support/pod-ips.ts';

const run = promisify(execFile);

export async function removePodIps(ownerPid: number): Promise<number> {
  const { stdout } = await run('ip', ['-4', '-o', 'addr', 'show', 'dev', 'lo']);
  let removed = 0;
  for (const line of stdout.split('\n')) {
    const m = /inet (\d+\.\d+\.\d+\.\d+)\/\d+ .*scope \w+ ([^\s\\]+)/.exec(line);
    if (!m?.[1] || m[2] !== `lo:cf${ownerPid}` || !m[1].startsWith(`${POD_IP_PREFIX}.`)) continue;
    await run('ip', ['addr', 'del', `${m[1]}/32`, 'dev', 'lo']).catch(() => {});
    removed++;
  }
  return removed;
}
