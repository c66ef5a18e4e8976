// Issue 15 acceptance: a gateway as production renders it carries legitimate calls through the
// whole adversarial suite (attacks.ts, run by its own process). Two phases on fresh gateways, the
// same legitimate calls without and with the attack: 0 crashes, RSS below 60% of the rendered memory
// limit, /health p99 and the calls' response latency p99 within 1.5x, no audio lost. Prints one JSON
// line with the figures and ratios. Full size: 20 calls of 20 s (ADVERSARIAL_SCALE=full).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type CallResult, placeCall, speechPattern } from '../simulator/call.ts';
import { AUTH_TOKEN } from '../voice-gateway/helpers.ts';
import { ATTACKS, type AttackTarget } from './attacks.ts';
import { FULL, percentile, pinned, production, size, sleep, startGatewayProcess } from './harness.ts';

const LEGIT = size(5, 20);
const CALL_MS = size(6000, 20_000);
const ROUNDS = size(1, 2);
const prod = production();
const attackerCalls = ATTACKS.reduce((n, a) => n + a.calls, 0);
// The attacker's own calls are calls too: capacity fits the legitimate calls beside them.
const config = {
  ...prod.config,
  calls: {
    ...prod.config.calls,
    maxConcurrentPerPod: Math.max(LEGIT + attackerCalls, prod.config.calls?.maxConcurrentPerPod ?? 20),
  },
};

interface Phase {
  health: number[];
  responses: number[];
  healthP99Ms: number;
  healthP50Ms: number;
  responseP99Ms: number;
  agentAudioMs: number;
  rssPeakMiB: number;
  /** CPU the gateway process used in the phase (user + system). */
  cpuSeconds: number;
  crashed: boolean;
  calls: CallResult[];
  attack?: unknown;
}

async function phase(attack: boolean): Promise<Phase> {
  const gw = await startGatewayProcess(config, { cpu: 0 });
  try {
    // One process per attack, so a busy attack (the replay flood) does not starve another.
    const attackers: { name: string; child: ReturnType<typeof spawn>; out: string }[] = [];
    if (attack) {
      const target: AttackTarget = {
        url: gw.url,
        publicBaseUrl: config.publicBaseUrl,
        mediaFrameBytes: config.limits?.mediaFrameBytes ?? 65536,
        maxPayloadBytes: config.limits?.maxPayloadBytes ?? 65536,
      };
      // ADVERSARIAL_ATTACKS=name,name runs only those (to find which attack costs what).
      const chosen = (process.env.ADVERSARIAL_ATTACKS ?? '').split(',').filter(Boolean);
      for (const a of ATTACKS) {
        if (chosen.length && !chosen.includes(a.name)) continue;
        const [cmd, ...args] = [
          ...pinned(1, 19),
          process.execPath,
          join(import.meta.dirname, 'attacker.ts'),
          JSON.stringify(target),
          a.name,
        ];
        const entry = {
          name: a.name,
          child: spawn(cmd as string, args, { stdio: ['ignore', 'pipe', 'inherit'] }),
          out: '',
        };
        entry.child.stdout?.on('data', (d: Buffer) => {
          entry.out += d.toString();
        });
        attackers.push(entry);
      }
      while (!attackers.every((e) => e.out.includes('ATTACKING'))) await sleep(20);
      await sleep(1000);
    }
    let rssPeak = gw.rss();
    const health: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const t0 = performance.now();
        await (await fetch(`${gw.url}/health`)).text();
        health.push(performance.now() - t0);
        rssPeak = Math.max(rssPeak, gw.rss());
        await sleep(50);
      }
    })();
    const calls = await Promise.all(
      Array.from({ length: LEGIT }, async (_, i) => {
        await sleep(i * 50);
        return placeCall({
          gatewayUrl: gw.url,
          publicBaseUrl: config.publicBaseUrl,
          authToken: AUTH_TOKEN,
          audio: speechPattern(CALL_MS - 2000, 1000, 1500),
          hangupAfterMs: CALL_MS,
        });
      }),
    );
    sampling = false;
    await sampler;
    const reports: Record<string, unknown> = {};
    await Promise.all(
      attackers.map(async (e) => {
        const exited = new Promise((r) => e.child.once('exit', r));
        e.child.kill('SIGTERM');
        await exited;
        const line = e.out.slice(e.out.indexOf('\n') + 1).trim();
        Object.assign(reports, line ? JSON.parse(line) : { [e.name]: 'no report' });
      }),
    );
    const crashed = gw.exited() !== undefined;
    const cpuSeconds = crashed ? 0 : gw.cpuSeconds();
    const responses = calls.flatMap((c) => c.responseLatencyMs);
    return {
      health,
      responses,
      healthP99Ms: percentile(health, 99),
      healthP50Ms: percentile(health, 50),
      responseP99Ms: percentile(responses, 99),
      agentAudioMs: calls.reduce((n, c) => n + c.agentAudioMs, 0),
      rssPeakMiB: rssPeak / 2 ** 20,
      cpuSeconds,
      crashed,
      calls,
      attack: attack ? reports : undefined,
    };
  } finally {
    await gw.stop();
  }
}

function pool(phases: Phase[]): Phase {
  const health = phases.flatMap((p) => p.health);
  const responses = phases.flatMap((p) => p.responses);
  return {
    health,
    responses,
    healthP99Ms: percentile(health, 99),
    healthP50Ms: percentile(health, 50),
    responseP99Ms: percentile(responses, 99),
    agentAudioMs: phases.reduce((n, p) => n + p.agentAudioMs, 0),
    rssPeakMiB: Math.max(...phases.map((p) => p.rssPeakMiB)),
    cpuSeconds: phases.reduce((n, p) => n + p.cpuSeconds, 0),
    crashed: phases.some((p) => p.crashed),
    calls: phases.flatMap((p) => p.calls),
    attack: phases.map((p) => p.attack),
  };
}

describe('adversarial: legitimate calls under the whole attack', () => {
  it(`${LEGIT} calls of ${CALL_MS / 1000} s beside every attack: no crash, bounded RSS, latency within 1.5x, no audio lost`, async () => {
    // Quiet and attacked phases alternate (ROUNDS of each, fresh gateways) and their samples are
    // pooled, so a burst of unrelated load on a shared machine weighs on both sides alike.
    // The test's callers and /health prober share core 0 with the gateway, in both phases alike; the
    // attackers (niced: clients on other machines, whose CPU is not the pod's) get core 1.
    if (pinned(0)[0] === 'taskset') spawnSync('taskset', ['-p', '-c', '0', String(process.pid)]);
    const quiets: Phase[] = [];
    const attackeds: Phase[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      quiets.push(await phase(false));
      attackeds.push(await phase(true));
    }
    const quiet = pool(quiets);
    const attacked = pool(attackeds);
    const round = (x: number) => Math.round(x * 100) / 100;
    const figures = {
      scale: FULL ? 'full' : 'small',
      legitimateCalls: LEGIT,
      rounds: ROUNDS,
      healthSamples: [quiet.health.length, attacked.health.length],
      callSeconds: CALL_MS / 1000,
      memoryLimitMiB: prod.memoryLimitBytes / 2 ** 20,
      quiet: {
        healthP50Ms: round(quiet.healthP50Ms),
        healthP99Ms: round(quiet.healthP99Ms),
        responseP99Ms: round(quiet.responseP99Ms),
        agentAudioMs: round(quiet.agentAudioMs),
        rssPeakMiB: round(quiet.rssPeakMiB),
        gatewayCpuSeconds: round(quiet.cpuSeconds),
      },
      attacked: {
        healthP50Ms: round(attacked.healthP50Ms),
        healthP99Ms: round(attacked.healthP99Ms),
        responseP99Ms: round(attacked.responseP99Ms),
        agentAudioMs: round(attacked.agentAudioMs),
        rssPeakMiB: round(attacked.rssPeakMiB),
        gatewayCpuSeconds: round(attacked.cpuSeconds),
        crashed: attacked.crashed,
      },
      ratios: {
        healthP99: round(attacked.healthP99Ms / quiet.healthP99Ms),
        responseP99: round(attacked.responseP99Ms / quiet.responseP99Ms),
        audio: round(attacked.agentAudioMs / quiet.agentAudioMs),
        rssOfLimit: round((attacked.rssPeakMiB * 2 ** 20) / prod.memoryLimitBytes),
      },
      attacks: attacked.attack,
    };
    process.stdout.write(`${JSON.stringify(figures)}\n`);
    assert.equal(attacked.crashed, false, 'no gateway crash');
    assert.ok(figures.ratios.rssOfLimit < 0.6, `RSS ${figures.attacked.rssPeakMiB} MiB`);
    for (const c of attacked.calls) {
      assert.equal(c.kind, 'stream', 'every legitimate call was taken');
      assert.equal(c.endedBy, 'caller');
      assert.equal(c.invalidOutbound, 0);
    }
    const notHeld = JSON.stringify(figures.attacks ?? []).match(/[\w-]+_NOT_HELD/g);
    assert.equal(notHeld, null, `HTTP attacks the door did not hold: ${notHeld?.join(', ')}`);
    // Echo answers each utterance; a few hundred ms of the last one may fall after the hang-up either way.
    assert.ok(
      figures.ratios.audio >= (FULL ? 0.98 : 0.95),
      `legitimate calls lost audio: ratio ${figures.ratios.audio}`,
    );
    // The acceptance bound (1.5x) at full size; a small run's p99 is one or two samples, so it is
    // printed, not asserted.
    if (FULL) {
      assert.ok(figures.ratios.healthP99 <= 1.5, `/health p99 ratio ${figures.ratios.healthP99}`);
      assert.ok(
        figures.ratios.responseP99 <= 1.5,
        `response latency p99 ratio ${figures.ratios.responseP99}`,
      );
    }
  });
});
