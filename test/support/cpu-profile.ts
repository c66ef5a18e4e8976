// Where a V8 CPU profile (`.cpuprofile`, as the inspector's Profiler.stop gives it) spent its samples:
// self time by function, for a benchmark's JSON.

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
}

/** Where a function is: its name (or `(anonymous)`), then the file and 1-based line. */
function where(frame: ProfileNode['callFrame']): string {
  const file = frame.url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/(node_modules|operator|cdk8s|voice-gateway)\//, '$1/');
  const name = frame.functionName || '(anonymous)';
  return file ? `${name} ${file}:${frame.lineNumber + 1}` : name;
}

/** The `n` functions with the most self samples, each with its share of all samples. */
export function topSelfTime(profile: CpuProfile, n: number): { fn: string; share: number }[] {
  const byFunction = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    total += hits;
    const key = where(node.callFrame);
    byFunction.set(key, (byFunction.get(key) ?? 0) + hits);
  }
  return [...byFunction]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([fn, hits]) => ({ fn, share: Math.round((hits / Math.max(total, 1)) * 1000) / 1000 }));
}
