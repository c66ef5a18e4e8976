// `callfleet operator` refuses a bad period flag at once, naming it, before it connects to anything.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { run } from '../../../operator/cli/operator.ts';

async function refused(args: string[]): Promise<{ code: number; stderr: string }> {
  const write = process.stderr.write;
  let stderr = '';
  process.stderr.write = ((chunk: string) => {
    stderr += chunk;
    return true;
  }) as typeof process.stderr.write;
  try {
    return { code: await run(args), stderr };
  } finally {
    process.stderr.write = write;
  }
}

for (const value of ['abc', '0', '-5', '0.5']) {
  test(`--resync=${value} is refused with the flag's name (a zero or NaN period would spin a 1 ms timer)`, async () => {
    const { code, stderr } = await refused([`--resync=${value}`]);
    assert.equal(code, 2);
    assert.match(stderr, /--resync: ".*" is not a number of seconds/);
  });
}

test('--call-poll=soon is refused with the flag name', async () => {
  const { code, stderr } = await refused(['--call-poll=soon']);
  assert.equal(code, 2);
  assert.match(stderr, /--call-poll: "soon" is not a number of seconds/);
});
