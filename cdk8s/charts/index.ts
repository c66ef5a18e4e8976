// Desired state: one pure function per kind, spec in, Kubernetes objects out (cdk8s + cdk8s-plus-28).
// The operator server-side-applies the objects; `callfleet render` prints them.
import type { MemoryStore, VoiceAgent } from '../api/v1alpha1/index.ts';
import { ownerOf } from './labels.ts';
import { buildMemoryStore, type MemoryStoreRenderContext } from './memorystore/index.ts';
import { type RenderResult, synth } from './synth.ts';
import { buildVoiceAgent, type VoiceAgentRenderContext } from './voiceagent/index.ts';

export type { MemoryStoreRenderContext } from './memorystore/index.ts';
export { memoryStoreConnection } from './memorystore/index.ts';
export type { RenderResult } from './synth.ts';
export type { MemoryStoreContext, VoiceAgentRenderContext } from './voiceagent/index.ts';

/** A parsed VoiceAgent → its children. Never throws: errors come back with the field path. */
export function renderVoiceAgent(va: VoiceAgent, ctx: VoiceAgentRenderContext = {}): RenderResult {
  return synth(ownerOf('VoiceAgent', va.metadata), (chart) => buildVoiceAgent(chart, va, ctx));
}

/** A parsed MemoryStore → its children. Never throws: errors come back with the field path. */
export function renderMemoryStore(ms: MemoryStore, ctx: MemoryStoreRenderContext = {}): RenderResult {
  return synth(ownerOf('MemoryStore', ms.metadata), (chart) => buildMemoryStore(chart, ms, ctx));
}
