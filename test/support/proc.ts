// What a benchmark reads of another process from /proc.
import { readFileSync } from 'node:fs';

/** user+system CPU seconds of a process so far (clock ticks of 1/100 s). */
export function cpuSeconds(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resident memory of a process now and at its peak (`VmRSS`, `VmHWM`), in MB with one decimal. */
export function residentMemoryMb(pid: number | undefined): { peakRssMb: number; rssMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const mb = (field: string) =>
    Math.round(Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0) / 102.4) / 10;
  return { peakRssMb: mb('VmHWM'), rssMb: mb('VmRSS') };
}
