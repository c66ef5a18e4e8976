// Benchmark: time to render one VoiceAgent (and one MemoryStore) into its children, the operator's
// per-reconcile cost. Target: under 5 ms per VoiceAgent. Prints JSON.
//   node test/bench/render.ts [--iterations 500]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { parseMemoryStore, parseVoiceAgent, type VoiceAgent } from '../../cdk8s/api/v1alpha1/index.ts';
import { renderMemoryStore, renderVoiceAgent } from '../../cdk8s/charts/index.ts';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '500' } } });
const N = Number(values.iterations);
const examples = new URL('../../examples/', import.meta.url).pathname;
const load = (f: string) => parse(readFileSync(join(examples, f), 'utf8'));

const agents: VoiceAgent[] = [
  'voiceagent-echo.yaml',
  'voiceagent-elevenlabs-native.yaml',
  'voiceagent-elevenlabs-stream.yaml',
  'voiceagent-openai-realtime.yaml',
  'voiceagent-websocket.yaml',
].map((f) => {
  const p = parseVoiceAgent({ ...load(f), metadata: { ...load(f).metadata, uid: 'bench' } });
  if (!p.ok) throw new Error(`${f}: ${JSON.stringify(p.issues)}`);
  return p.value;
});
const store = parseMemoryStore(load('memorystore-postgres.yaml'));
if (!store.ok) throw new Error(JSON.stringify(store.issues));

function measure(fn: (i: number) => void): { meanMs: number; p50Ms: number; p99Ms: number } {
  for (let i = 0; i < 50; i++) fn(i); // warm-up (JIT, module init)
  const times: number[] = [];
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    fn(i);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    meanMs: round(times.reduce((a, b) => a + b, 0) / N),
    p50Ms: round(times[Math.floor(N * 0.5)] ?? 0),
    p99Ms: round(times[Math.floor(N * 0.99)] ?? 0),
  };
}

const va = measure((i) => {
  const r = renderVoiceAgent(agents[i % agents.length] as VoiceAgent, {});
  if (!r.ok) throw new Error(r.error.message);
});
const ms = measure(() => {
  if (store.ok && !renderMemoryStore(store.value, {}).ok) throw new Error('render failed');
});
const targetMs = 5;
process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: 'render',
      iterations: N,
      node: process.version,
      voiceAgent: { ...va, targetMs, pass: va.meanMs < targetMs },
      memoryStore: ms,
    },
    null,
    2,
  )}\n`,
);
