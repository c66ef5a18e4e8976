// Uplink chunking through a real gateway and a websocket backend (docs/websocket-backend.md): the
// backend gets all caller audio, in order, two frames per message; a DTMF, a mark, speech onset and
// the end of the call send held audio at once; barge-in (clear) still reaches the caller within one
// frame of the backend's decision.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { type WebSocket, WebSocketServer } from 'ws';
import { toneMulaw } from '../../../voice-gateway/audio/tone.ts';
import type { SimulatedCall } from '../../simulator/call.ts';
import { mediaFrame } from '../../simulator/media-frame.ts';
import { sleep, startGateway, type TestGateway, until } from '../helpers.ts';

interface Received {
  type: string;
  at: number;
  audio?: Buffer;
}

class FakeAgent {
  readonly wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  readonly calls: { ws: WebSocket; got: Received[] }[] = [];
  /** Loud caller audio seen: answer with a clear (the backend's barge-in decision), when set. */
  clearOnSpeech = false;
  clearSentAt = 0;
  speechSeenAt = 0;

  constructor() {
    this.wss.on('connection', (ws) => {
      const c = { ws, got: [] as Received[] };
      this.calls.push(c);
      ws.on('message', (data) => {
        const at = performance.now();
        const m = JSON.parse(data.toString()) as { type: string; audio?: unknown };
        const audio = m.type === 'audio' ? Buffer.from(String(m.audio), 'base64') : undefined;
        c.got.push({ type: m.type, at, audio });
        if (audio && !this.speechSeenAt && audio.some((b) => b < 0x80)) {
          this.speechSeenAt = at;
          if (this.clearOnSpeech) {
            this.clearSentAt = performance.now();
            ws.send('{"type":"clear"}');
          }
        }
      });
    });
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as { port: number }).port}/agent`;
  }

  /** Caller audio the backend got, in order. */
  audio(i = 0): Buffer {
    return Buffer.concat((this.calls[i]?.got ?? []).flatMap((r) => (r.audio ? [r.audio] : [])));
  }

  close(): void {
    for (const c of this.wss.clients) c.terminate();
    this.wss.close();
  }
}

/** A quiet frame (mu-law near zero: no speech) whose bytes say which frame it is. */
function quiet(i: number): Buffer {
  return Buffer.alloc(160, 0xff - (i % 8));
}

function sendFrame(call: SimulatedCall, f: Buffer, seq: number): void {
  call.send(mediaFrame(call.streamSid, f.toString('base64'), seq));
}

async function started(g: TestGateway, agent: FakeAgent): Promise<SimulatedCall> {
  const n = agent.calls.length;
  const call = await g.start({ sendAudio: false, hangupAfterMs: 20_000 });
  await until(() => (agent.calls[n]?.got.length ?? 0) >= 1, 3000, 'backend start');
  return call;
}

describe('uplink chunks through the gateway (websocket backend)', () => {
  let agent: FakeAgent;
  let g: TestGateway;
  before(async () => {
    agent = new FakeAgent();
    await once(agent.wss, 'listening');
    g = await startGateway({
      agent: { provider: 'websocket', websocket: { url: agent.url } },
      calls: { uplinkChunkMs: 40 },
    });
  });
  after(async () => {
    await g.close();
    agent.close();
  });

  it('two frames per message, every byte in order; a DTMF sends the held frame before the digit', async () => {
    const call = await started(g, agent);
    const i = agent.calls.length - 1;
    // Back to back (a loaded test machine's timers would let the sweep send a lone frame).
    const frames = Array.from({ length: 9 }, (_, k) => quiet(k));
    for (const [k, f] of frames.slice(0, 8).entries()) sendFrame(call, f, k + 2);
    await until(() => agent.audio(i).length >= 8 * 160, 2000, '8 frames');
    const audioMsgs = () => agent.calls[i]?.got.filter((r) => r.type === 'audio') ?? [];
    assert.equal(audioMsgs().length, 4);
    assert.ok(audioMsgs().every((r) => r.audio?.length === 320));
    sendFrame(call, frames[8] as Buffer, 10);
    call.sendDtmf('7');
    await until(() => agent.calls[i]?.got.some((r) => r.type === 'dtmf') ?? false, 2000, 'dtmf');
    const got = agent.calls[i]?.got ?? [];
    const dtmfAt = got.findIndex((r) => r.type === 'dtmf');
    assert.equal(got[dtmfAt - 1]?.type, 'audio', 'the held 9th frame went out just before the digit');
    assert.equal(got[dtmfAt - 1]?.audio?.length, 160);
    assert.deepEqual(agent.audio(i), Buffer.concat(frames));
    call.hangup();
    await call.done;
  });

  it('the end of the call sends the held frame (the backend hears everything before stop)', async () => {
    const call = await started(g, agent);
    const i = agent.calls.length - 1;
    const frames = [quiet(1), quiet(2), quiet(3)];
    for (const [k, f] of frames.entries()) sendFrame(call, f, k + 2);
    await until(() => agent.audio(i).length >= 320, 2000, 'first chunk');
    call.hangup();
    await call.done;
    await until(() => agent.calls[i]?.got.some((r) => r.type === 'stop') ?? false, 2000, 'stop');
    assert.deepEqual(agent.audio(i), Buffer.concat(frames));
  });

  it('barge-in: speech onset reaches the backend at once, and its clear reaches the caller within one frame', async () => {
    // Five barge-ins on one call; medians, so one descheduled moment on a loaded machine does not decide.
    agent.clearOnSpeech = true;
    const clears: number[] = [];
    const n = agent.calls.length;
    const call = await g.start({
      sendAudio: false,
      hangupAfterMs: 20_000,
      onMessage: (m) => {
        if (m.event === 'clear') clears.push(performance.now());
      },
    });
    const up: number[] = [];
    const down: number[] = [];
    let seq = 2;
    try {
      await until(() => (agent.calls[n]?.got.length ?? 0) >= 1, 3000, 'backend start');
      const agentWs = agent.calls[n]?.ws as WebSocket;
      for (let round = 0; round < 5; round++) {
        // 600 ms of quiet in whole chunks (the gateway's detector ends the caller's turn after 500 ms).
        for (let k = 0; k < 15; k++) {
          sendFrame(call, quiet(k), seq++);
          sendFrame(call, quiet(k + 1), seq++);
          await sleep(40);
        }
        // The agent talks; the caller speaks on the first frame of a chunk: without the onset flush
        // that frame would wait for its partner (20 ms) or the sweep (25 ms).
        agentWs.send(
          JSON.stringify({
            type: 'audio',
            audio: toneMulaw(440, 600).toString('base64'),
            itemId: `i${round}`,
          }),
        );
        await sleep(30);
        agent.speechSeenAt = 0;
        agent.clearSentAt = 0;
        const before = clears.length;
        const loudSentAt = performance.now();
        sendFrame(call, toneMulaw(300, 20), seq++);
        await until(() => clears.length > before, 2000, `clear at the caller (round ${round})`);
        up.push(agent.speechSeenAt - loudSentAt);
        down.push((clears[before] as number) - agent.clearSentAt);
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;
      const fmt = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(', ');
      assert.ok(
        median(up) < 15,
        `speech onset reached the backend after ${fmt(up)} ms (a held frame waits 20-25)`,
      );
      assert.ok(median(down) < 20, `clear reached the caller ${fmt(down)} ms after the backend sent it`);
      await until(() => agent.calls[n]?.got.some((r) => r.type === 'truncate') ?? false, 2000, 'truncate');
    } finally {
      agent.clearOnSpeech = false;
      call.hangup();
      await call.done;
    }
  });
});

describe('uplink chunks: 20 ms sends every frame as it comes', () => {
  it('one message per frame, the payload Twilio sent', async () => {
    const agent = new FakeAgent();
    await once(agent.wss, 'listening');
    const g = await startGateway({
      agent: { provider: 'websocket', websocket: { url: agent.url } },
      calls: { uplinkChunkMs: 20 },
    });
    try {
      const call = await started(g, agent);
      const frames = [quiet(1), quiet(2), quiet(3)];
      for (const [k, f] of frames.entries()) sendFrame(call, f, k + 2);
      await until(() => agent.audio().length >= 480, 2000, '3 frames');
      const msgs = agent.calls[0]?.got.filter((r) => r.type === 'audio') ?? [];
      assert.deepEqual(
        msgs.map((r) => r.audio),
        frames,
      );
      call.hangup();
      await call.done;
    } finally {
      await g.close();
      agent.close();
    }
  });
});
