// A memory limit for a benchmarked process, as a container's `resources.limits.memory` sets one. It
// matters beyond the kill: Node sizes its V8 heap from the cgroup's limit (259 MB of heap under 512 Mi,
// about 4 GB on an unlimited 24 GB machine), so a process measured without the limit collects garbage
// lazily and shows a peak RSS its pod never reaches, or hides the collector's work the pod pays for.
// Needs root (it creates a cgroup); cgroup v2 and the v1 memory controller are both handled.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Bytes of a Kubernetes memory quantity in binary units (`512Mi`, `1Gi`, `65536Ki`, `1048576`). */
export function bytesOfQuantity(quantity: string): number {
  const match = /^(\d+)(Ki|Mi|Gi)?$/.exec(quantity);
  if (!match)
    throw new Error(`memory quantity "${quantity}": expected a whole number with Ki, Mi, Gi or no unit`);
  const unit = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 }[match[2] ?? ''] ?? 1;
  return Number(match[1]) * unit;
}

export interface MemoryCgroup {
  path: string;
  limitBytes: number;
  /** The command and arguments that run `command args` inside the cgroup (its pid stays the same). */
  wrap(command: string, args: string[]): { command: string; args: string[] };
  /** Processes the kernel killed for exceeding the limit. */
  oomKills(): number;
  /** The highest memory the cgroup was charged (RSS and page cache), when the kernel reports it. */
  peakBytes(): number | undefined;
  /** Removes the cgroup; its processes must have exited. */
  release(): void;
}

const ROOT = '/sys/fs/cgroup';

export function createMemoryCgroup(name: string, limitBytes: number, root = ROOT): MemoryCgroup {
  const v2 = existsSync(join(root, 'cgroup.controllers'));
  const path = v2 ? join(root, name) : join(root, 'memory', name);
  const file = (leaf: string) => join(path, leaf);
  try {
    mkdirSync(path, { recursive: true });
    writeFileSync(file(v2 ? 'memory.max' : 'memory.limit_in_bytes'), String(limitBytes));
  } catch (error) {
    throw new Error(`cannot create the memory cgroup ${path} (needs root): ${String(error)}`);
  }
  const counter = (leaf: string, key: string) => {
    const line = readFileSync(file(leaf), 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${key} `));
    return Number(line?.split(' ')[1] ?? 0);
  };
  // At exit the process may still be dying (a busy cgroup cannot be removed): best effort there.
  const atExit = () => {
    try {
      cgroup.release();
    } catch {}
  };
  const cgroup: MemoryCgroup = {
    path,
    limitBytes,
    wrap: (command, args) => ({
      command: 'sh',
      // `$0` is the cgroup's process list; the shell moves itself in, then becomes the command.
      args: ['-c', 'echo $$ > "$0" && exec "$@"', file('cgroup.procs'), command, ...args],
    }),
    oomKills: () => counter(v2 ? 'memory.events' : 'memory.oom_control', 'oom_kill'),
    peakBytes: () => {
      const leaf = file(v2 ? 'memory.peak' : 'memory.max_usage_in_bytes');
      return existsSync(leaf) ? Number(readFileSync(leaf, 'utf8').trim()) : undefined;
    },
    release: () => {
      process.off('exit', atExit);
      if (existsSync(path)) rmdirSync(path);
    },
  };
  process.on('exit', atExit);
  return cgroup;
}
