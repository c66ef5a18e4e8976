// Issue 11, live-call hand-off, end to end: the real operator reconciles a VoiceAgent with
// drain.handoff on and a MemoryStore (a real PostgreSQL run by the process kubelet), the process kubelet
// runs 4 gateway pods, nginx is the front door, the Twilio simulator places the calls and the fake Twilio
// REST behaves like Twilio's call update (the stream ends at once, the call follows the new
// <Connect><Stream> through nginx). The agent is the fake ElevenLabs, so the test sees what each new
// conversation was told. A rolling update must cut 0 calls and move every call still live to a new pod,
// without a second greeting, with the earlier transcript in the new conversation. Then the same rollout
// without hand-off, for comparison.
//
// Sizes (env): HANDOFF_CALLS, HANDOFF_MIN_S, HANDOFF_MAX_S, HANDOFF_DEADLINE_S, HANDOFF_COMPARE (0/1).
// `make test` uses short defaults so the suite stays fast: 20 calls of 40–80 s, a 10 s hand-off deadline,
// the comparison on. `make test-handoff` runs the numbers: 60 calls of 5–10 minutes, a 60 s
// deadline (comparison off: without hand-off that rollout takes as long as the longest call).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { V1Container } from '@kubernetes/client-node';
import { type ElConversation, FakeElevenLabs } from '../fakes/elevenlabs.ts';
import { FakeTwilioRest } from '../fakes/twilio-rest.ts';
import { defaultImageCommands } from '../support/fleet.ts';
import { postgresMemoryStore } from '../support/manifests.ts';
import { waitFor } from '../support/processes.ts';
import {
  type Agent,
  type OperatedFleet,
  patchVoiceAgent,
  reportLine,
  startAgent,
  startOperatedFleet,
  stopAgent,
  TWILIO_ACCOUNT_SID,
  voiceAgent,
} from './agents.ts';
import { CallLoad } from './call-load.ts';

const CALLS = Number(process.env.HANDOFF_CALLS ?? 20);
const MIN_MS = Number(process.env.HANDOFF_MIN_S ?? 40) * 1000;
const MAX_MS = Number(process.env.HANDOFF_MAX_S ?? 80) * 1000;
const DEADLINE_S = Number(process.env.HANDOFF_DEADLINE_S ?? 10);
const COMPARE = (process.env.HANDOFF_COMPARE ?? (MAX_MS <= 120_000 ? '1' : '0')) === '1';
const PRESTOP_S = 3;
const REPLICAS = 4;
const AUTH_TOKEN = 'handoff-auth-token';
const EL_KEY = 'xi-handoff-key';

let fleet: OperatedFleet;
let rest: FakeTwilioRest;
let el: FakeElevenLabs;
let elUrl: string;
const rollouts: Record<string, number> = {};

/** The fake ElevenLabs agent on a 4-pod fleet with caller memory, hand-off on or off. */
function handoffVoiceAgent(name: string, handoff: boolean) {
  return voiceAgent(name, {
    agent: {
      provider: 'elevenlabs',
      elevenlabs: {
        agentId: `agent_${name}`,
        baseUrl: elUrl,
        apiKeySecretRef: { name: 'elevenlabs', key: 'api-key' },
      },
    },
    memory: { storeRef: { name: 'callers' } },
    calls: {
      maxConcurrentPerPod: 150,
      maxDurationSeconds: Math.ceil(MAX_MS / 1000) + 60,
      silenceTimeoutSeconds: 30,
    },
    // With hand-off the grace period is rendered as preStop + deadline + margin; without, maxDuration + 60.
    drain: { preStopSeconds: PRESTOP_S, handoff: { enabled: handoff, deadlineSeconds: DEADLINE_S } },
    replicas: REPLICAS,
  });
}

async function startHandoffAgent(name: string, handoff: boolean): Promise<Agent> {
  const agent = await startAgent(fleet, handoffVoiceAgent(name, handoff), {
    authToken: AUTH_TOKEN,
    secrets: { elevenlabs: { 'api-key': EL_KEY } },
    dependencies: [postgresMemoryStore('callers')],
    readyTimeoutMs: 180_000,
    serversTimeoutMs: 60_000,
  });
  // The gateways migrate the store in the background: wait until every pod has caller memory up.
  await waitFor(
    'caller memory up on every gateway',
    async () => {
      const list = await agent.pods.list();
      const up = await Promise.all(
        list.map(async (p) => {
          const text = await (await fetch(`http://${p.status?.podIP}:9090/metrics`)).text().catch(() => '');
          return /^callfleet_memory_up 1$/m.test(text);
        }),
      );
      return list.length === REPLICAS && up.every(Boolean);
    },
    60_000,
    500,
  );
  return agent;
}

/** The scenario's live calls: CALLS speaking callers of MIN_MS–MAX_MS, dialled over 5 s. */
async function placeLiveCalls(agent: Agent): Promise<CallLoad> {
  const load = new CallLoad(agent.target);
  await load.place({
    count: CALLS,
    minMs: MIN_MS,
    maxMs: MAX_MS,
    rampMs: 5000,
    audio: 'speech',
    label: 'live',
  });
  return load;
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** Rolls the Deployment (a config change) and resolves when every old pod is gone: the rollout wall time. */
async function rollout(
  agent: Agent,
): Promise<{ seconds: number; oldPods: Set<string>; newPods: Set<string> }> {
  const oldPods = new Set((await agent.pods.list()).map((p) => p.metadata?.name ?? ''));
  const at = performance.now();
  await patchVoiceAgent(fleet, agent, { calls: { silenceTimeoutSeconds: 31 } });
  await waitFor(
    'the rollout: 4 updated pods available and every old pod gone',
    async () => {
      const d = await agent.pods.deployment();
      const s = d.status;
      const pods = await agent.pods.list();
      return (
        (d.metadata?.generation ?? 0) > 1 &&
        (s?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
        s?.updatedReplicas === REPLICAS &&
        s.availableReplicas === REPLICAS &&
        !pods.some((p) => oldPods.has(p.metadata?.name ?? ''))
      );
    },
    MAX_MS + 600_000,
    500,
  );
  const seconds = (performance.now() - at) / 1000;
  const newPods = new Set((await agent.pods.list()).map((p) => p.metadata?.name ?? ''));
  return { seconds, oldPods, newPods };
}

describe('live-call hand-off [e2e, issue 11]', { timeout: 3 * MAX_MS + 1_800_000 }, () => {
  before(async () => {
    rest = new FakeTwilioRest(TWILIO_ACCOUNT_SID, AUTH_TOKEN);
    el = new FakeElevenLabs({ apiKey: EL_KEY, greetingMs: 600, replyMs: 400 });
    const [restUrl, elBase] = await Promise.all([rest.start(), el.start()]);
    elUrl = elBase;
    // The gateway pods reach the fake Twilio REST through TWILIO_API_BASE_URL (the VoiceAgent API has no
    // field for it: a real fleet talks to api.twilio.com).
    const imageCommands = (image: string, c: V1Container) => {
      const cmd = defaultImageCommands(image, c);
      if (cmd && c.name === 'gateway') cmd.env = { ...cmd.env, TWILIO_API_BASE_URL: restUrl };
      return cmd;
    };
    fleet = await startOperatedFleet({
      processNodes: 3,
      restartBackoffMs: 1000,
      imageCommands,
      crds: ['voiceagents.callfleet.io', 'memorystores.callfleet.io'],
    });
  });

  after(async () => {
    await fleet?.stop();
    await Promise.all([rest?.stop(), el?.stop()]);
    if (rollouts.handoff !== undefined) {
      const without =
        rollouts.plain !== undefined
          ? `${rollouts.plain.toFixed(1)} s without hand-off`
          : 'without hand-off not run (HANDOFF_COMPARE=0): it waits for the longest call';
      console.log(
        `[handoff] closing note: rolling update of ${REPLICAS} pods carrying ${CALLS} calls of ${MIN_MS / 1000}–${MAX_MS / 1000} s: ${rollouts.handoff.toFixed(1)} s with hand-off (deadline ${DEADLINE_S} s), ${without}`,
      );
    }
  });

  it(`rolling update of a ${REPLICAS}-pod fleet carrying ${CALLS} calls of ${MIN_MS / 1000}–${MAX_MS / 1000} s with hand-off (deadline ${DEADLINE_S} s): 0 cut, every call continues on a new pod, no second greeting, transcript carried`, async () => {
    const agent = await startHandoffAgent('handoff', true);
    const t0 = performance.now();
    const convBefore = el.conversations.length;
    const load = await placeLiveCalls(agent);
    assert.equal(load.summary().unanswered, 0, load.failures().join(' | '));
    // Let every caller talk (and the agent answer) before the rollout, so there is a transcript to carry.
    await new Promise((r) => setTimeout(r, 8000));

    const r = await rollout(agent);
    rollouts.handoff = r.seconds;
    const rolledOutAt = Date.now();
    await load.settle(MAX_MS + 120_000);
    console.log(reportLine('handoff', 'with hand-off', load.line(), t0, `rollout ${r.seconds.toFixed(1)} s`));

    const s = load.summary();
    assert.equal(s.cut, 0, `${load.line()}: ${load.failures().join(' | ')}`);
    assert.equal(s.completed, s.placed, load.line());

    const results = load.calls.map((t) => ({ t, r: t.result as NonNullable<typeof t.result> }));
    const gaps = results.flatMap(({ r }) => r.handoffGapsMs);
    const handoffs = results.reduce((n, { r }) => n + r.handoffs, 0);
    // Every call still live when the rollout finished ends on a new pod; every call moved at least once.
    for (const { t, r: res } of results) {
      const last = res.streams.at(-1);
      const endedAt = t.placedAt + res.durationMs;
      if (endedAt > rolledOutAt + 2000) {
        assert.ok(
          last?.pod && r.newPods.has(last.pod),
          `${t.call?.callSid} ends on a new pod: ${JSON.stringify(res.streams)}`,
        );
        assert.ok(res.handoffs >= 1, `${t.call?.callSid} was handed off`);
      }
      for (const stream of res.streams.slice(1)) {
        assert.equal(stream.customParameters.callfleet_resumed, '1');
      }
    }
    // One greeting per call; every resumed conversation got the transcript so far.
    const convs = el.conversations.slice(convBefore);
    const byCall = new Map<string, ElConversation[]>();
    for (const c of convs) {
      const sid = String((c.init?.dynamic_variables as Record<string, unknown> | undefined)?.call_sid);
      byCall.set(sid, [...(byCall.get(sid) ?? []), c]);
    }
    let transcriptsCarried = 0;
    for (const { t, r: res } of results) {
      const list = byCall.get(t.call?.callSid ?? '') ?? [];
      assert.equal(list.length, res.streams.length, 'one conversation per stream');
      assert.equal(list.filter((c) => c.greeted).length, 1, `${t.call?.callSid}: greeted exactly once`);
      for (const c of list.slice(1)) {
        const vars = c.init?.dynamic_variables as Record<string, unknown>;
        assert.equal(vars.call_resumed, true);
        assert.match(String(vars.previous_transcript), /Caller: caller speech/, 'the earlier transcript');
        transcriptsCarried++;
      }
    }
    assert.equal(transcriptsCarried, handoffs);
    assert.ok(handoffs >= 1);
    const p50 = quantile(gaps, 0.5);
    const p99 = quantile(gaps, 0.99);
    console.log(
      `[handoff] ${handoffs} hand-offs for ${CALLS} calls (${results.filter(({ r }) => r.handoffs > 0).length} calls moved, up to ${Math.max(...results.map(({ r }) => r.handoffs))} times): hand-off gap (caller side: old stream stop → new stream start) p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms; ${results.reduce((n, { r }) => n + r.greetings, 0)} echo greetings heard; Twilio REST updates ${rest.updates.filter((u) => /callfleet_resumed/.test(u.twiml)).length}`,
    );
    assert.ok(p99 < 2000, `hand-off gap p99 under 2 s (${p99} ms)`);
    for (const name of r.oldPods) {
      const exit = fleet.kubelet.events.find((e) => e.pod === `${agent.ns}/${name}` && e.type === 'exited');
      assert.match(String(exit?.detail), /code=0 /, `${name} exited 0: ${exit?.detail}`);
    }
    await stopAgent(fleet, agent, 120_000);
  });

  it('the same rolling update without hand-off (comparison)', { skip: !COMPARE }, async () => {
    const agent = await startHandoffAgent('plain', false);
    const t0 = performance.now();
    const load = await placeLiveCalls(agent);
    await new Promise((r) => setTimeout(r, 8000));
    const r = await rollout(agent);
    rollouts.plain = r.seconds;
    await load.settle(MAX_MS + 120_000);
    console.log(
      reportLine('handoff', 'without hand-off', load.line(), t0, `rollout ${r.seconds.toFixed(1)} s`),
    );
    const s = load.summary();
    assert.equal(s.cut, 0, `${load.line()}: ${load.failures().join(' | ')}`);
    assert.equal(s.completed, s.placed, load.line());
    assert.equal(
      load.calls.reduce((n, t) => n + (t.result?.handoffs ?? 0), 0),
      0,
      'no hand-off when it is off',
    );
    await stopAgent(fleet, agent, 120_000);
  });
});
