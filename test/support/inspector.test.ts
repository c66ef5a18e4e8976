import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { type CpuProfile, topSelfTime } from './cpu-profile.ts';
import { liveHeapBytes, startCpuProfile } from './inspector.ts';
import { freePort } from './ports.ts';

const MB = 1024 * 1024;

test('the live heap counts what a process holds, not the garbage it has not collected yet', async () => {
  const port = await freePort();
  // Holds 64 MB of doubles; 128 MB more are promoted to the old generation, then dropped.
  const script = `
    globalThis.held = new Array(8 * 1024 * 1024).fill(1.5);
    let dropped = Array.from({ length: 16 }, () => new Array(1024 * 1024).fill(2.5));
    dropped = null;
    const v8 = require('node:v8');
    console.log(v8.getHeapStatistics().used_heap_size);
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, [`--inspect=127.0.0.1:${port}`, '-e', script], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  try {
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    const usedBefore = Number(String(line).trim());
    assert.ok(usedBefore > 160 * MB, `the dropped arrays still counted before a collection: ${usedBefore}`);
    const live = await liveHeapBytes(port);
    assert.ok(live >= 64 * MB && live < 100 * MB, `live heap ${Math.round(live / MB)} MB`);
  } finally {
    child.kill('SIGKILL');
  }
});

test('no inspector on the port is an error, not a hang', async () => {
  const port = await freePort();
  await assert.rejects(liveHeapBytes(port, 2000), /fetch failed|ECONNREFUSED/);
});

test('a CPU profile taken through the inspector shows where the process spent its time', async () => {
  const port = await freePort();
  // Spins in a function of its own name, 5 ms of every 6. Never optimized, so V8 cannot inline it into
  // the timer that calls it.
  const script = `
    function spinForTheProfile() {
      let x = 0;
      const end = Date.now() + 5;
      while (Date.now() < end) for (let i = 0; i < 10000; i++) x += i % 7;
      return x;
    }
    %NeverOptimizeFunction(spinForTheProfile);
    setInterval(spinForTheProfile, 6);
    console.log('ready');`;
  const child = spawn(
    process.execPath,
    [`--inspect=127.0.0.1:${port}`, '--allow-natives-syntax', '-e', script],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  try {
    await once(child.stdout, 'data');
    const stop = await startCpuProfile(port);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const profile = (await stop()) as CpuProfile;
    // The profile covers the half second asked for, and the process was busy, in the spinning function
    // (V8 gives part of a hot loop's samples to the timer that called it, so its share is not asserted).
    const top = topSelfTime(profile, 3);
    assert.ok(
      top.some((f) => f.fn.startsWith('spinForTheProfile ')),
      JSON.stringify(top),
    );
    const idle = top.find((f) => f.fn === '(idle)')?.share ?? 0;
    assert.ok(idle < 0.5, `idle ${idle}`);
    const seconds = (profile.endTime - profile.startTime) / 1e6;
    assert.ok(seconds >= 0.4 && seconds < 5, `profile of ${seconds} s`);
  } finally {
    child.kill('SIGKILL');
  }
});
