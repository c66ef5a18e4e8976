import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { bytesOfQuantity, createMemoryCgroup } from './memory-cgroup.ts';

test('memory quantities in binary units become bytes, anything else is refused by name', () => {
  assert.equal(bytesOfQuantity('512Mi'), 512 * 1024 * 1024);
  assert.equal(bytesOfQuantity('1Gi'), 1024 ** 3);
  assert.equal(bytesOfQuantity('64Ki'), 65_536);
  assert.equal(bytesOfQuantity('1048576'), 1_048_576);
  for (const bad of ['512M', '1.5Gi', '-1Mi', 'Mi', '', '512 Mi'])
    assert.throws(() => bytesOfQuantity(bad), new RegExp(`memory quantity "${bad}"`));
});

const root = process.getuid?.() === 0;

test('a process in the cgroup sizes its heap from the limit and is killed beyond it', {
  skip: !root && 'needs root',
}, () => {
  const cgroup = createMemoryCgroup(`callfleet-test-${process.pid}`, bytesOfQuantity('256Mi'));
  try {
    const heap = cgroup.wrap(process.execPath, [
      '-e',
      'console.log(process.constrainedMemory(), require("v8").getHeapStatistics().heap_size_limit)',
    ]);
    const [constrained, heapLimit] = execFileSync(heap.command, heap.args, { encoding: 'utf8' })
      .trim()
      .split(' ')
      .map(Number);
    assert.equal(constrained, 256 * 1024 * 1024);
    // Unconstrained on this machine Node takes gigabytes; in 256 Mi it takes V8's floor, about 259 MB.
    assert.ok((heapLimit ?? 0) < 300 * 1024 * 1024, `heap limit ${heapLimit}`);
    assert.equal(cgroup.oomKills(), 0);

    const hog = cgroup.wrap(process.execPath, [
      '-e',
      'const held = []; for (;;) held.push(Buffer.alloc(1 << 20, 1))',
    ]);
    assert.throws(
      () => execFileSync(hog.command, hog.args, { stdio: 'ignore' }),
      (error: NodeJS.ErrnoException & { signal?: string }) => error.signal === 'SIGKILL',
    );
    assert.equal(cgroup.oomKills(), 1);
    assert.ok((cgroup.peakBytes() ?? 0) >= 250 * 1024 * 1024);
  } finally {
    cgroup.release();
  }
});

test('a cgroup that cannot be created is refused with its path', () => {
  assert.throws(
    () => createMemoryCgroup('x', 1024, '/dev/null'),
    /cannot create the memory cgroup \/dev\/null\/memory\/x \(needs root\)/,
  );
});
