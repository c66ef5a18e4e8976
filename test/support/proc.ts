// What a benchmark reads of another process from /proc.
import { readFileSync } from 'node:fs';

/** user+system CPU seconds of a process so far (clock ticks of 1/100 s). */
export function cpuSeconds(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
