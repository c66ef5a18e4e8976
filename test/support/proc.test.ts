import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cpuSeconds, residentMemoryMb } from './proc.ts';

test('resident memory and CPU of a process come from /proc, the peak never below the current', () => {
  const held = Buffer.alloc(64 * 1024 * 1024, 1);
  const { peakRssMb, rssMb } = residentMemoryMb(process.pid);
  assert.ok(rssMb >= 64, `rss ${rssMb} MB with 64 MB held`);
  assert.ok(peakRssMb >= rssMb);
  assert.ok(cpuSeconds(process.pid) > 0);
  assert.equal(held.length, 64 * 1024 * 1024);
});
