import assert from 'node:assert/strict';
import { test } from 'node:test';
import { topSelfTime } from './cpu-profile.ts';

const frame = (functionName: string, url: string, lineNumber: number) => ({ functionName, url, lineNumber });

test('self time is summed per function across call sites, largest first, as shares of all samples', () => {
  const profile = {
    startTime: 0,
    endTime: 1,
    nodes: [
      { id: 1, callFrame: frame('(root)', '', -1), hitCount: 0 },
      { id: 2, callFrame: frame('parse', 'file:///app/operator/kube/rest.ts', 9), hitCount: 3 },
      { id: 3, callFrame: frame('', 'file:///app/node_modules/ws/lib/receiver.js', 99), hitCount: 2 },
      // The same function reached from another caller: its samples add up.
      { id: 4, callFrame: frame('parse', 'file:///app/operator/kube/rest.ts', 9), hitCount: 4 },
      { id: 5, callFrame: frame('(garbage collector)', '', -1), hitCount: 1 },
    ],
  };
  assert.deepEqual(topSelfTime(profile, 2), [
    { fn: 'parse operator/kube/rest.ts:10', share: 0.7 },
    { fn: '(anonymous) node_modules/ws/lib/receiver.js:100', share: 0.2 },
  ]);
  assert.deepEqual(topSelfTime(profile, 3).at(-1), { fn: '(garbage collector)', share: 0.1 });
});
