// The API contract (rule 12): every leaf field of the VoiceAgent, MemoryStore and CallCampaign specs,
// enumerated from the zod schemas themselves, takes effect. For each leaf the test renders the examples/ with the field
// at a different valid value and requires the rendered objects to change (the gateway config, env, a
// child), unless the field is on OPERATOR_READ: fields the operator acts on itself, each naming the
// test that proves the effect, or it is a list-map key (`x-kubernetes-list-map-keys`: the identity of
// its list entry). A CallCampaign renders nothing: each of its fields is on CAMPAIGN_READ, naming where
// in operator/campaign/ the dialer reads it. A field doing none of these fails with its path and what to do.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { z } from 'zod';
import {
  CallCampaignSpecSchema,
  MemoryStoreSpecSchema,
  parseCallCampaign,
  parseMemoryStore,
  parseVoiceAgent,
  VoiceAgentSpecSchema,
} from '../../../cdk8s/api/v1alpha1/index.ts';
import { renderDocuments } from '../../../operator/cli/render.ts';
import { EXAMPLES, fixedCtx, ROOT, readDocs } from '../charts/fixtures.ts';
import {
  candidates,
  ensureParents,
  getIn,
  type Leaf,
  minimalValue,
  type Segment,
  setIn,
  specLeaves,
  unwrap,
} from './spec-leaves.ts';

const THIS_FILE = 'test/cdk8s/api/contract.test.ts';

/** Fields the operator reads itself (they change what it does, not what it renders). */
export const OPERATOR_READ: Record<string, { file: string; test: string }> = {
  'spec.replicas': {
    file: 'test/operator/reconcile/voiceagent.test.ts',
    test: 'spec.replicas is what the Deployment is scaled to',
  },
  'spec.autoscaling.schedule[].days': {
    file: 'test/operator/scaling/schedule.test.ts',
    test: 'a window is active on its days between start and end, in its own time zone',
  },
  'spec.autoscaling.schedule[].start': {
    file: 'test/operator/scaling/schedule.test.ts',
    test: 'a window is active on its days between start and end, in its own time zone',
  },
  'spec.autoscaling.schedule[].end': {
    file: 'test/operator/scaling/schedule.test.ts',
    test: 'an overnight window belongs to the day it starts on',
  },
  'spec.autoscaling.schedule[].timeZone': {
    file: 'test/operator/scaling/schedule.test.ts',
    test: 'a window is active on its days between start and end, in its own time zone',
  },
  'spec.autoscaling.schedule[].minReplicas': {
    file: 'test/operator/reconcile/voiceagent.test.ts',
    test: 'an active schedule window raises the replicas above spec.replicas',
  },
  'spec.rollout.autoRollback': {
    file: 'test/operator/reconcile/rollout.test.ts',
    test: 'autoRollback false: a failing rollout is reported, not rolled back',
  },
  'spec.rollout.maxCallFailureRate': {
    file: 'test/operator/rollout/judge.test.ts',
    test: 'new pods failing more calls than allowed fail the rollout, once there are enough calls to judge',
  },
  'spec.rollout.minCalls': {
    file: 'test/operator/rollout/judge.test.ts',
    test: 'calls.total == minCalls is judged; one call fewer is not',
  },
};

/**
 * Fields whose value must name another field's entry (a mount names a volume), so no single-field change
 * is valid: each names the test that varies it together with what it references and shows the effect.
 */
export const REFERENCES: Record<string, { file: string; test: string }> = {
  'spec.podTemplate.volumeMounts[].name': {
    file: 'test/cdk8s/charts/voiceagent-fit.test.ts',
    test: 'extra env comes after the operator’s own; envFrom, volumes and mounts are added, the own ones kept',
  },
};

/**
 * CallCampaign fields, which the operator's dialer acts on (a campaign renders no object): the file under
 * operator/campaign/ that reads each one and the expression it reads it with (default: the field's path). A
 * field the dialer stops reading, or a new field not listed here, fails.
 */
const DIALER = 'operator/campaign/dialer.ts';
const MANAGER = 'operator/campaign/manager.ts';
const CSV = 'operator/campaign/csv.ts';
const WINDOW = 'operator/campaign/window.ts';
export const CAMPAIGN_READ: Record<string, { file: string; reads?: string }> = {
  'spec.voiceAgentRef.name': { file: MANAGER },
  'spec.callerId': { file: DIALER },
  'spec.recipients.csvSecretRef.name': { file: MANAGER },
  'spec.recipients.csvSecretRef.key': { file: MANAGER },
  'spec.recipients.phoneColumn': { file: CSV, reads: 'c.phoneColumn' },
  'spec.recipients.timeZoneColumn': { file: CSV, reads: 'c.timeZoneColumn' },
  'spec.recipients.priorityColumn': { file: CSV, reads: 'c.priorityColumn' },
  'spec.startTime': { file: DIALER },
  'spec.timeZone': { file: DIALER },
  'spec.callingWindow.start': { file: WINDOW, reads: 'w.start' },
  'spec.callingWindow.end': { file: WINDOW, reads: 'w.end' },
  'spec.callingWindow.days': { file: WINDOW, reads: 'w.days' },
  'spec.pacing.maxConcurrentCalls': { file: DIALER },
  'spec.pacing.callsPerSecond': { file: DIALER },
  'spec.pacing.inboundHeadroom': { file: DIALER },
  'spec.pacing.slowDownAboveFailureRate': { file: DIALER },
  'spec.retry.maxAttempts': { file: DIALER },
  'spec.retry.backoffSeconds': { file: DIALER },
  'spec.retry.maxBackoffSeconds': { file: DIALER },
  'spec.retry.outcomes': { file: DIALER },
  'spec.answeringMachine.detect': { file: DIALER, reads: 'am.detect' },
  'spec.answeringMachine.action': { file: DIALER, reads: 'am.action' },
  'spec.answeringMachine.voicemailMessage': { file: DIALER, reads: 'am.voicemailMessage' },
  'spec.optOut.dtmfDigit': { file: DIALER },
  'spec.ringTimeoutSeconds': { file: DIALER },
  'spec.suspend': { file: DIALER },
};

const WHAT_TO_DO =
  'Every API field must take effect (ARCHITECTURE rule 12). Either render it (cdk8s/charts/: the gateway ' +
  'config in voiceagent/configmap.ts, env in voiceagent/deployment.ts, or a child) so the pods run with it, ' +
  `or, if the operator itself acts on it, add it to OPERATOR_READ in ${THIS_FILE} naming the test that ` +
  'proves its effect. A field that does neither must be removed from the API.';

type Raw = Record<string, unknown>;

const clone = <T>(v: T): T => structuredClone(v);
const stable = (v: unknown): string =>
  JSON.stringify(v, (_k, x) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b)))
      : x,
  );

function load(file: string): Raw {
  return readDocs(join(EXAMPLES, file))[0] as Raw;
}

const exampleFiles = readdirSync(EXAMPLES).sort();
const vaExamples = exampleFiles.filter((f) => f.startsWith('voiceagent-')).map(load);
const msExamples = exampleFiles.filter((f) => f.startsWith('memorystore-')).map(load);
const ccExamples = exampleFiles.filter((f) => f.startsWith('callcampaign')).map(load);
const storeFor = (name: string): Raw => {
  const ms = clone(msExamples.find((m) => (m.metadata as Raw).name === 'callers') as Raw);
  (ms.metadata as Raw).name = name;
  return ms;
};
const agentUsing = (store: string): Raw => {
  const va = clone(vaExamples.find((v) => getIn(v, ['spec', 'memory', 'storeRef']) !== undefined) as Raw);
  setIn(va, ['spec', 'memory', 'storeRef', 'name'], store);
  return va;
};

type Kind = 'VoiceAgent' | 'MemoryStore' | 'CallCampaign';
const PARSE = { VoiceAgent: parseVoiceAgent, MemoryStore: parseMemoryStore, CallCampaign: parseCallCampaign };

/**
 * The documents rendered for one base: the VoiceAgent with its MemoryStore, the store with an agent using
 * it, or the campaign with the agent and store it dials through.
 */
type Scenario = { kind: Kind; subject: Raw; companions: Raw[] };

function render(s: Scenario): string | undefined {
  const docs = s.kind === 'MemoryStore' ? [s.subject, ...s.companions] : [...s.companions, s.subject];
  const r = renderDocuments(docs, fixedCtx);
  return r.ok ? stable(r.objects) : undefined;
}

const parse = (s: Scenario) => PARSE[s.kind](s.subject);

function parses(s: Scenario): unknown {
  const r = parse(s);
  return r.ok ? r.value : undefined;
}

/** A discriminator (enum) may need its companion block: fill what is required, drop what is refused. */
function repair(s: Scenario, schema: z.ZodType): boolean {
  for (let i = 0; i < 3; i++) {
    const r = parse(s);
    if (r.ok) return true;
    for (const issue of r.issues) {
      const path = issue.path.split('.') as Segment[];
      if (path[0] !== 'spec') return false;
      const field = unwrap(schema);
      const existing = getIn(s.subject, path);
      if (existing === undefined) {
        const sub = path
          .slice(1)
          .reduce<z.ZodType | undefined>(
            (sch, seg) =>
              sch
                ? (unwrap(sch) as unknown as { shape?: Record<string, z.ZodType> }).shape?.[seg]
                : undefined,
            field,
          );
        if (!sub) return false;
        setIn(s.subject, path, minimalValue(sub));
      } else {
        setIn(s.subject, path, undefined);
      }
    }
  }
  return parse(s).ok;
}

interface Verdict {
  effect?: string;
  tried: string[];
}

/**
 * Each example with the leaf's parents created, and again with the leaf's boolean siblings switched on
 * (a setting may only matter while its block is enabled, e.g. drain.handoff.deadlineSeconds).
 */
function bases(leaf: Leaf, scenarios: Scenario[]): Scenario[] {
  const out: Scenario[] = [];
  const parentPath = leaf.path.slice(0, -1);
  const parentShape =
    (
      unwrap(leaf.parents[leaf.parents.length - 1] as z.ZodType) as unknown as {
        shape?: Record<string, z.ZodType>;
      }
    ).shape ?? {};
  for (const scenario of scenarios) {
    const base = clone(scenario);
    try {
      ensureParents(base.subject, leaf);
    } catch {
      continue;
    }
    out.push(base);
    const switched = clone(base);
    let any = false;
    for (const [key, schema] of Object.entries(parentShape)) {
      const path = [...parentPath, key];
      if (key === leaf.path[leaf.path.length - 1]) continue;
      if ((unwrap(schema) as unknown as { _zod: { def: { type: string } } })._zod.def.type !== 'boolean')
        continue;
      if (getIn(switched.subject, path) === true) continue;
      setIn(switched.subject, path, true);
      any = true;
    }
    if (any) out.push(switched);
  }
  return out;
}

/** Tries every base and candidate value until the rendered objects change. */
function probe(leaf: Leaf, scenarios: Scenario[], specSchema: z.ZodType): Verdict {
  const tried: string[] = [];
  const isEnum =
    (unwrap(leaf.schema) as unknown as { _zod: { def: { type: string } } })._zod.def.type === 'enum';
  for (const base of bases(leaf, scenarios)) {
    const scenario = base;
    const parsedBase = parses(base);
    if (!parsedBase) continue;
    const baseRender = render(base);
    if (!baseRender) continue;
    const current = getIn(parsedBase, leaf.path);
    for (const value of candidates(leaf.schema, current)) {
      const variant = clone(base);
      setIn(variant.subject, leaf.path, value);
      if (!parses(variant) && !(isEnum && repair(variant, specSchema))) continue;
      const parsed = parses(variant);
      if (stable(getIn(parsed, leaf.path)) === stable(current)) continue;
      const out = render(variant);
      if (!out) continue;
      const name = (scenario.subject.metadata as Raw).name;
      tried.push(`${name}: ${JSON.stringify(value)}`);
      if (out !== baseRender) return { effect: `${name}: ${JSON.stringify(value)}`, tried };
    }
  }
  return { tried };
}

const MIN_LEAVES: Record<Kind, number> = { VoiceAgent: 60, MemoryStore: 10, CallCampaign: 20 };

function checkContract(kind: Kind, schema: z.ZodType, scenarios: Scenario[]) {
  const leaves = specLeaves(schema);
  test(`${kind}: the walk finds the spec's leaves`, () => {
    assert.ok(leaves.length > MIN_LEAVES[kind], `only ${leaves.length} leaves`);
    if (process.env.CONTRACT_VERBOSE)
      console.log(`${kind} spec leaves (${leaves.length}):\n  ${leaves.map((l) => l.name).join('\n  ')}`);
  });
  for (const leaf of leaves) {
    test(`${leaf.name} takes effect`, () => {
      // A list-map key is the identity of its entry (unique, what server-side apply merges by): the
      // API server acts on it. Its entry's other fields must still take effect.
      if (leaf.listMapKey) return;
      const verdict = probe(leaf, scenarios, schema);
      if (process.env.CONTRACT_VERBOSE) console.log(`${leaf.name} → ${verdict.effect ?? 'operator-read'}`);
      if (verdict.effect) return;
      const read =
        kind === 'CallCampaign'
          ? CAMPAIGN_READ[leaf.name]
          : (OPERATOR_READ[leaf.name] ?? REFERENCES[leaf.name]);
      const table = kind === 'CallCampaign' ? 'CAMPAIGN_READ' : 'OPERATOR_READ';
      assert.ok(
        read,
        `${leaf.name}: setting it to another valid value changes no rendered object ` +
          `(tried ${[...new Set(verdict.tried)].join(', ') || 'no valid value on any example'}) and it is not on ${table}. ${WHAT_TO_DO}`,
      );
    });
  }
}

const vaScenarios: Scenario[] = vaExamples.map((va) => {
  const store = getIn(va, ['spec', 'memory', 'storeRef', 'name']);
  return { kind: 'VoiceAgent', subject: clone(va), companions: [storeFor(String(store ?? 'callers'))] };
});
const msScenarios: Scenario[] = msExamples.map((ms) => ({
  kind: 'MemoryStore',
  subject: clone(ms),
  companions: [agentUsing(String((ms.metadata as Raw).name))],
}));
const ccScenarios: Scenario[] = ccExamples.map((cc) => {
  const agent = clone(agentUsing('callers'));
  (agent.metadata as Raw).name = getIn(cc, ['spec', 'voiceAgentRef', 'name']);
  return { kind: 'CallCampaign', subject: clone(cc), companions: [storeFor('callers'), agent] };
});

describe('API contract: every VoiceAgent spec field takes effect', () => {
  checkContract('VoiceAgent', VoiceAgentSpecSchema, vaScenarios);
});

describe('API contract: every MemoryStore spec field takes effect', () => {
  checkContract('MemoryStore', MemoryStoreSpecSchema, msScenarios);
});

describe('API contract: every CallCampaign spec field takes effect', () => {
  checkContract('CallCampaign', CallCampaignSpecSchema, ccScenarios);
});

describe('CAMPAIGN_READ', () => {
  const names = new Set(specLeaves(CallCampaignSpecSchema).map((l) => l.name));
  for (const [field, { file, reads = field }] of Object.entries(CAMPAIGN_READ)) {
    test(`${field}: is a CallCampaign field and ${file} reads it as ${reads}`, () => {
      assert.ok(
        names.has(field),
        `${field} is on CAMPAIGN_READ but is no CallCampaign spec field: remove it`,
      );
      assert.ok(file.startsWith('operator/campaign/'), `${field}: ${file} is not in operator/campaign/`);
      const text = readFileSync(join(ROOT, file), 'utf8');
      assert.ok(
        new RegExp(`${reads.replaceAll('.', '\\??\\.')}\\b`).test(text),
        `${field}: CAMPAIGN_READ says ${file} reads it as ${reads}, which it does not: the field would be ignored`,
      );
    });
  }
});

describe('OPERATOR_READ', () => {
  const names = new Set([
    ...specLeaves(VoiceAgentSpecSchema).map((l) => l.name),
    ...specLeaves(MemoryStoreSpecSchema).map((l) => l.name),
  ]);
  for (const [field, proof] of Object.entries({ ...OPERATOR_READ, ...REFERENCES })) {
    test(`${field}: is an API field and its proof exists (${proof.file})`, () => {
      assert.ok(names.has(field), `${field} is on OPERATOR_READ but is no spec field: remove it`);
      const text = readFileSync(join(ROOT, proof.file), 'utf8');
      assert.ok(
        text.includes(proof.test),
        `${field}: OPERATOR_READ names the test "${proof.test}" in ${proof.file}, which does not exist`,
      );
    });
  }
});
