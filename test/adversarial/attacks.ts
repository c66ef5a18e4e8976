// The attacks under-attack.test.ts runs beside legitimate calls (in their own process: attacker.ts),
// each until the signal aborts, each reporting what it tried and what the gateway did. The HTTP-level
// attacks of http-attacks.ts (path confusion, endless bodies, slow clients) run as one more attacker.
import { StreamCredentials } from '../../voice-gateway/twilio/stream-credential.ts';
import { newCallSid } from '../simulator/call.ts';
import { ACCOUNT_SID } from '../voice-gateway/helpers.ts';
import {
  capturedUpgrade,
  closedWithin,
  credentialOf,
  mediaFrame,
  openStream,
  rawCall,
  sleep,
  startFrame,
  voiceWebhook,
} from './harness.ts';
import { ATTACKS as HTTP_ATTACKS, targetOf } from './http-attacks.ts';

export interface AttackTarget {
  /** Where the gateway listens. */
  url: string;
  /** Its configured publicBaseUrl (what Twilio signs). */
  publicBaseUrl: string;
  /** The gateway's limits (frame sizes), as rendered. */
  mediaFrameBytes: number;
  maxPayloadBytes: number;
}

export type AttackReport = Record<string, number>;

export interface Attack {
  name: string;
  /** Started calls the attack holds (the legitimate calls' capacity is raised by this much). */
  calls: number;
  run(target: AttackTarget, signal: AbortSignal): Promise<AttackReport>;
}

const count = (r: AttackReport, key: string) => {
  r[key] = (r[key] ?? 0) + 1;
};

/** 1,000 concurrent replays of one signed upgrade, a burst every few seconds. */
const replayFlood: Attack = {
  name: 'replay-flood',
  calls: 0,
  async run(t, signal) {
    const r: AttackReport = {};
    const upgrade = capturedUpgrade(t.publicBaseUrl, newCallSid());
    while (!signal.aborted) {
      const streams = await Promise.all(Array.from({ length: 1000 }, () => openStream(t.url, upgrade)));
      for (const s of streams) {
        count(r, `status_${s.status}`);
        s.ws.terminate();
      }
      await sleep(4000);
    }
    return r;
  },
};

/** Streams that never send start, reopened as soon as the gateway closes them. */
const halfOpen: Attack = {
  name: 'half-open',
  calls: 0,
  async run(t, signal) {
    const r: AttackReport = {};
    const hold = async (sid: string) => {
      while (!signal.aborted) {
        const s = await openStream(t.url, capturedUpgrade(t.publicBaseUrl, sid));
        count(r, `status_${s.status}`);
        if (s.status !== 101) {
          await sleep(200);
          continue;
        }
        const t0 = Date.now();
        const code = await Promise.race([
          s.closed,
          new Promise<number>((res) => signal.addEventListener('abort', () => res(-1))),
        ]);
        if (code !== -1) r.closedAfterMsMax = Math.max(r.closedAfterMsMax ?? 0, Date.now() - t0);
        s.ws.terminate();
      }
    };
    await Promise.all([hold(newCallSid()), hold(newCallSid())]);
    return r;
  },
};

/** A start naming another call (and caller) with the attacker's own credential. */
const crossCall: Attack = {
  name: 'cross-call',
  calls: 0,
  async run(t, signal) {
    const r: AttackReport = {};
    while (!signal.aborted) {
      const own = newCallSid();
      const credential = credentialOf(
        await voiceWebhook(t.url, t.publicBaseUrl, { callSid: own, from: '+14155550666' }),
      );
      const s = await openStream(t.url, capturedUpgrade(t.publicBaseUrl, own));
      if (s.status === 101) {
        s.ws.send(
          startFrame(newCallSid(), 'MZcross', { callfleet_stream: credential, From: '+14155550100' }),
        );
        count(r, `closed_${await closedWithin(s, 2000)}`);
      } else count(r, `status_${s.status}`);
      s.ws.terminate();
      await sleep(200);
    }
    return r;
  },
};

/** Expired, foreign-key and missing credentials. */
const forged: Attack = {
  name: 'forged-credentials',
  calls: 0,
  async run(t, signal) {
    const r: AttackReport = {};
    const foreign = new StreamCredentials('an-attacker-key-0123456789abcdefghijkl');
    for (let i = 0; !signal.aborted; i++) {
      const sid = newCallSid();
      const claims = { callSid: sid, accountSid: ACCOUNT_SID, from: '+14155550100', to: '+14155550199' };
      const params: Record<string, string> =
        i % 3 === 0
          ? { callfleet_stream: foreign.issue(claims, Date.now() - 61_000) }
          : i % 3 === 1
            ? { callfleet_stream: foreign.issue(claims) }
            : { From: '+14155550100' };
      const s = await openStream(t.url, capturedUpgrade(t.publicBaseUrl, sid));
      if (s.status === 101) {
        s.ws.send(startFrame(sid, 'MZforged', params));
        count(r, `closed_${await closedWithin(s, 2000)}`);
      } else count(r, `status_${s.status}`);
      s.ws.terminate();
      await sleep(200);
    }
    return r;
  },
};

/** The attacker's own call sends nesting bombs and oversized frames at the frame-rate limit. */
const frameBombs: Attack = {
  name: 'frame-bombs',
  calls: 1,
  async run(t, signal) {
    const r: AttackReport = {};
    const small = Math.min(2000, t.mediaFrameBytes - 10);
    const depth = Math.floor((small - 20) / 2);
    const bomb = `{"event":"media","x":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
    const big = `{"event":"media","x":"${'A'.repeat(Math.min(t.maxPayloadBytes - 1024, 60_000))}"}`;
    while (!signal.aborted) {
      const c = await rawCall(t.url, t.publicBaseUrl);
      count(r, 'calls');
      while (!signal.aborted && c.ws.readyState === c.ws.OPEN) {
        for (let i = 0; i < 7; i++) c.ws.send(i === 6 ? big : bomb);
        r.frames = (r.frames ?? 0) + 7;
        await sleep(20);
      }
      c.ws.terminate();
    }
    return r;
  },
};

/** The attacker's own call floods loud media past its byte budget and never reads what comes back. */
const byteFlood: Attack = {
  name: 'byte-flood',
  calls: 1,
  async run(t, signal) {
    const r: AttackReport = {};
    const payload = Buffer.alloc(Math.floor((t.mediaFrameBytes - 250) * 0.75), 0x10).toString('base64');
    while (!signal.aborted) {
      const c = await rawCall(t.url, t.publicBaseUrl);
      count(r, 'calls');
      (c.ws as unknown as { _socket?: { pause(): void } })._socket?.pause();
      for (let seq = 2; !signal.aborted && c.ws.readyState === c.ws.OPEN; seq += 8) {
        for (let i = 0; i < 8; i++) c.ws.send(mediaFrame(c.streamSid, payload, seq + i));
        r.frames = (r.frames ?? 0) + 8;
        await sleep(20);
      }
      c.ws.terminate();
    }
    return r;
  },
};

/** The public door's HTTP attacks (http-attacks.ts), one after another, again and again. */
const httpDoor: Attack = {
  name: 'http-door',
  calls: 0,
  async run(t, signal) {
    const r: AttackReport = {};
    const target = targetOf(t.url, { publicBaseUrl: t.publicBaseUrl });
    const full = process.env.ADVERSARIAL_SCALE === 'full';
    while (!signal.aborted) {
      for (const a of HTTP_ATTACKS) {
        if (signal.aborted) break;
        const result = await a.run(target, full);
        count(r, `${a.name}_${result.held ? 'held' : 'NOT_HELD'}`);
      }
      await sleep(1000);
    }
    return r;
  },
};

export const ATTACKS: Attack[] = [replayFlood, halfOpen, crossCall, forged, frameBombs, byteFlood, httpDoor];
