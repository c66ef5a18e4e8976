// Control-plane processes put ahead of (or behind) the rest: every thread takes the niceness asked,
// and a malformed setting is refused with the entry that is wrong.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { parseNiceness, reniceProcesses } from './pin-cpus.ts';
import type { Managed } from './processes.ts';

/** The niceness of each thread of `pid` (field 19 of /proc/<pid>/task/<tid>/stat). */
function threadNiceness(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const fields = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return Number(fields[16]);
  });
}

const asCluster = (entries: [string, ChildProcess][]) => ({
  processes: new Map(entries.map(([name, child]) => [name, { name, child } as unknown as Managed])),
});

describe('parseNiceness', () => {
  it('reads name=n pairs; empty and none mean none', () => {
    assert.deepEqual(parseNiceness('kwok=-10,kube-apiserver=5'), { kwok: -10, 'kube-apiserver': 5 });
    assert.deepEqual(parseNiceness(''), {});
    assert.deepEqual(parseNiceness('none'), {});
  });

  it('refuses a malformed entry, naming it', () => {
    for (const bad of ['kwok', 'kwok=', 'kwok=fast', 'kwok=-21', 'kwok=20', '=5', 'kwok=1=2', 'kwok=1.5'])
      assert.throws(() => parseNiceness(`etcd=1,${bad}`), new RegExp(`niceness "${bad}"`));
  });
});

describe('reniceProcesses', () => {
  const children: ChildProcess[] = [];
  after(() => {
    for (const child of children) child.kill();
  });

  it('sets every thread of the named process and leaves the others', async () => {
    // A Node process that says when it runs (its helper threads started by then).
    const node = spawn(process.execPath, ['-e', 'console.log("up"); setTimeout(() => {}, 60_000)'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    await new Promise((resolve) => node.stdout?.once('data', resolve));
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    children.push(node, other);
    const refused: string[] = [];
    const applied = reniceProcesses(
      asCluster([
        ['kwok', node],
        ['etcd', other],
      ]),
      { kwok: 7 },
      (name) => refused.push(name),
    );
    assert.deepEqual(applied, { kwok: 7 });
    assert.deepEqual(refused, []);
    const threads = threadNiceness(node.pid as number);
    assert.ok(threads.length > 1, 'node runs several threads');
    assert.deepEqual(new Set(threads), new Set([7]));
    assert.deepEqual(new Set(threadNiceness(other.pid as number)), new Set([0]));
  });

  it('reports a process that refuses and leaves it out of what took effect', async () => {
    const gone = spawn('true', { stdio: 'ignore' });
    await new Promise((resolve) => gone.once('exit', resolve));
    const refused: string[] = [];
    const applied = reniceProcesses(asCluster([['kwok', gone]]), { kwok: 5 }, (name) => refused.push(name));
    assert.deepEqual(applied, {});
    assert.deepEqual(refused, ['kwok']);
  });

  it('refuses a name the cluster does not run', () => {
    assert.throws(
      () => reniceProcesses(asCluster([]), { kwk: -10 }, () => {}),
      /no control-plane process named kwk/,
    );
  });
});
