// HTTP attacks on a gateway's public door, each a plain function of the target that returns what it
// observed and whether the gateway held. Raw sockets throughout: fetch / URL would normalise the very
// paths we want to send. Reusable by the under-attack load run (ATTACKS at the end).
import { connect, type Socket } from 'node:net';
import { computeSignature } from '../../voice-gateway/twilio/signature.ts';

export interface Target {
  host: string;
  port: number;
  /** The public base URL the gateway believes it has (what Twilio signs). */
  publicBaseUrl?: string;
  /** Twilio auth token, for requests that must carry a valid signature. */
  authToken?: string;
}

export interface AttackResult {
  name: string;
  /** True when the gateway refused or cut the attack as it should. */
  held: boolean;
  detail: Record<string, unknown>;
}

export interface RawResponse {
  status: number | undefined;
  headers: Record<string, string>;
  body: string;
  /** The server closed the connection. */
  closed: boolean;
  ms: number;
}

export const targetOf = (url: string, extra: Partial<Target> = {}): Target => {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port), ...extra };
};

function parseHead(buf: Buffer): { status?: number; headers: Record<string, string>; headEnd: number } {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return { headers: {}, headEnd: -1 };
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1]);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number.isFinite(status) ? status : undefined, headers, headEnd: end + 4 };
}

/** Sends raw request bytes; resolves on the first complete response, on close, or after timeoutMs. */
export function rawRequest(t: Target, request: string | Buffer, timeoutMs = 5_000): Promise<RawResponse> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect(t.port, t.host);
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const head = parseHead(buf);
      socket.destroy();
      resolve({
        status: head.status,
        headers: head.headers,
        body: head.headEnd >= 0 ? buf.subarray(head.headEnd).toString('utf8') : '',
        closed,
        ms: performance.now() - started,
      });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const head = parseHead(buf);
      if (head.headEnd < 0) return;
      const length = Number(head.headers['content-length'] ?? Number.NaN);
      if (Number.isFinite(length) && buf.length - head.headEnd >= length) finish(false);
    });
    socket.write(request);
  });
}

const requestText = (method: string, path: string, headers: Record<string, string> = {}, body = '') =>
  `${method} ${path} HTTP/1.1\r\nHost: gateway\r\n${Object.entries({
    ...(body || method === 'POST' ? { 'Content-Length': String(Buffer.byteLength(body)) } : {}),
    ...headers,
  })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}Connection: close\r\n\r\n${body}`;

// ---- path confusion -------------------------------------------------------------------------------

/**
 * Request targets that a front door routing by raw prefix could pass on while the gateway (or a URL
 * parser that treats "\" as "/" and resolves dot segments) reads them as the data-rights API or an
 * internal endpoint.
 */
export function confusingPaths(full = false): string[] {
  const base = [
    '/memory/../elevenlabs/x\\..\\..\\memory/export',
    '/elevenlabs/x\\..\\..\\memory/export',
    '/elevenlabs/..%2f..%2fmemory/export',
    '/elevenlabs/%2e%2e/%2e%2e/memory/export',
    '/elevenlabs/%2E%2E%2Fmemory%2Fexport',
    '/elevenlabs/x%5c..%5c..%5cmemory/export',
    '/twilio/voice/../../memory/export',
    '/twilio/voice/./../../status',
    '/elevenlabs//../memory/audit',
    '//memory/export',
    '/twilio/voice%00/../../metrics',
    '/elevenlabs/\t/../../memory/export',
  ];
  if (!full) return base;
  const seps = ['/', '\\', '%2f', '%2F', '%5c', '%5C'];
  const dots = ['..', '%2e%2e', '%2E%2E', '.%2e', '%2e.'];
  const prefixes = ['/elevenlabs/x', '/twilio/voice', '/twilio/stream-status', '/twilio/stream/CA1'];
  const targets = ['memory/export', 'memory/forget', 'memory/audit', 'status', 'metrics'];
  const out = new Set(base);
  for (const p of prefixes)
    for (const s of seps)
      for (const d of dots) for (const t of targets) out.add(`${p}${s}${d}${s}${d}${s}${t}`);
  return [...out];
}

/** Sends every confusing path (GET and POST); held when none of them is answered 2xx. */
export async function pathConfusion(t: Target, full = false): Promise<AttackResult> {
  const body = '{"phone":"+14155550100"}';
  const answers: { path: string; method: string; status: number | undefined }[] = [];
  for (const path of confusingPaths(full)) {
    for (const method of ['GET', 'POST']) {
      const r = await rawRequest(
        t,
        requestText(method, path, { 'Content-Type': 'application/json', Authorization: 'Bearer x' }, body),
      );
      answers.push({ path, method, status: r.status });
    }
  }
  const leaked = answers.filter((a) => a.status !== undefined && a.status < 300);
  return {
    name: 'path-confusion',
    held: leaked.length === 0,
    detail: { sent: answers.length, leaked, statuses: countBy(answers.map((a) => String(a.status))) },
  };
}

/** /status, /metrics, /retire and the data-rights API on the public door: held when all answer 404. */
export async function internalOnPublic(t: Target): Promise<AttackResult> {
  const probes: [string, string][] = [
    ['GET', '/status'],
    ['GET', '/metrics'],
    ['GET', '/memory/audit'],
    ['POST', '/memory/export'],
    ['POST', '/memory/forget'],
    ['POST', '/retire'],
  ];
  const answers = [];
  for (const [method, path] of probes) {
    const r = await rawRequest(t, requestText(method, path, {}, method === 'POST' ? '{}' : ''));
    answers.push({ method, path, status: r.status });
  }
  return { name: 'internal-on-public', held: answers.every((a) => a.status === 404), detail: { answers } };
}

// ---- bodies and slow clients ----------------------------------------------------------------------

export interface StreamingBodyResult extends AttackResult {
  detail: {
    status: number | undefined;
    /** Body bytes written before the server answered or closed (kernel buffers included). */
    bytesSent: number;
    msToAnswer: number | undefined;
    msToClose: number | undefined;
  };
}

/**
 * A chunked body that never ends. Held when the server closes the connection (answering 413, unless a
 * reset ate the answer) before `giveUpBytes` / `giveUpMs`; bytesSent bounds what the server could read.
 */
export function endlessChunkedBody(
  t: Target,
  o: { path?: string; giveUpBytes?: number; giveUpMs?: number; chunkBytes?: number } = {},
): Promise<StreamingBodyResult> {
  const giveUpBytes = o.giveUpBytes ?? 256 * 1024 * 1024;
  const giveUpMs = o.giveUpMs ?? 10_000;
  const chunk = Buffer.alloc(o.chunkBytes ?? 16 * 1024, 'a');
  const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect(t.port, t.host);
    let sent = 0;
    let head = Buffer.alloc(0);
    let status: number | undefined;
    let msToAnswer: number | undefined;
    let msToClose: number | undefined;
    let stop = false;
    const finish = () => {
      if (stop) return;
      stop = true;
      socket.destroy();
      // Held: the server cut the body off before we gave up. Its 413 may be lost to the reset that
      // closing a socket with unread input sends (the peer's kernel drops what it had not read).
      const held = msToClose !== undefined && (status === 413 || status === undefined);
      resolve({
        name: 'endless-chunked-body',
        held,
        detail: { status, bytesSent: sent, msToAnswer, msToClose },
      });
    };
    socket.on('data', (d: Buffer) => {
      head = Buffer.concat([head, d]);
      if (status === undefined) {
        status = parseHead(head).status;
        if (status !== undefined) msToAnswer = performance.now() - started;
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      msToClose = performance.now() - started;
      finish();
    });
    const pump = () => {
      while (!stop && !socket.destroyed) {
        if (sent >= giveUpBytes || performance.now() - started > giveUpMs) return finish();
        // Keep writing after the answer: a server that keeps reading would let us go on forever.
        sent += chunk.length;
        if (!socket.write(frame)) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    const timer = setTimeout(finish, giveUpMs + 1_000);
    timer.unref();
    socket.on('connect', () => {
      socket.write(
        `POST ${o.path ?? '/twilio/voice'} HTTP/1.1\r\nHost: gateway\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n`,
      );
      pump();
    });
  });
}

/** A Content-Length far above the limit: held when 413 comes back before any body byte is sent. */
export async function declaredHugeBody(t: Target): Promise<AttackResult> {
  const r = await rawRequest(
    t,
    'POST /twilio/voice HTTP/1.1\r\nHost: gateway\r\nContent-Length: 1073741824\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n',
  );
  return { name: 'declared-huge-body', held: r.status === 413, detail: { status: r.status, ms: r.ms } };
}

export interface SlowResult extends AttackResult {
  detail: { connections: number; closedWithinMs: number[]; stillOpen: number; maxMs: number | undefined };
}

/**
 * Slowloris: `connections` sockets that send the request line and then one header byte every
 * `everyMs`, never finishing. Held when the server closes every one within `deadlineMs`.
 */
export async function slowHeaders(
  t: Target,
  o: { connections?: number; everyMs?: number; deadlineMs: number },
): Promise<SlowResult> {
  return slowClients(t, o, 'slow-headers', 'POST /twilio/voice HTTP/1.1\r\nHost: gateway\r\nX-Slow: ', 'a');
}

/** Headers complete, then a body trickled one byte every `everyMs` (declared 2000 bytes, under the limit): held when all are closed in time. */
export async function slowBody(
  t: Target,
  o: { connections?: number; everyMs?: number; deadlineMs: number; path?: string },
): Promise<SlowResult> {
  return slowClients(
    t,
    o,
    'slow-body',
    `POST ${o.path ?? '/twilio/voice'} HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 2000\r\n\r\n`,
    'a',
  );
}

async function slowClients(
  t: Target,
  o: { connections?: number; everyMs?: number; deadlineMs: number },
  name: string,
  opening: string,
  drip: string,
): Promise<SlowResult> {
  const n = o.connections ?? 1;
  const closedAt = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<number | undefined>((resolve) => {
          const started = performance.now();
          const socket: Socket = connect(t.port, t.host);
          let timer: NodeJS.Timeout | undefined;
          const giveUp = setTimeout(() => {
            clearInterval(timer);
            socket.destroy();
            resolve(undefined);
          }, o.deadlineMs);
          socket.on('error', () => {});
          socket.on('data', () => {});
          socket.on('close', () => {
            clearInterval(timer);
            clearTimeout(giveUp);
            resolve(performance.now() - started);
          });
          socket.on('connect', () => {
            if (opening) socket.write(opening);
            timer = setInterval(() => {
              if (!socket.destroyed) socket.write(drip);
            }, o.everyMs ?? 200);
          });
        }),
    ),
  );
  const closed = closedAt.filter((ms): ms is number => ms !== undefined);
  return {
    name,
    held: closed.length === n,
    detail: {
      connections: n,
      closedWithinMs: closed.map(Math.round),
      stillOpen: n - closed.length,
      maxMs: closed.length ? Math.round(Math.max(...closed)) : undefined,
    },
  };
}

/** Connections that never send a byte: held when the server closes all of them within `deadlineMs`. */
export async function silentConnections(
  t: Target,
  o: { connections?: number; deadlineMs: number },
): Promise<SlowResult> {
  return slowClients(t, { ...o, everyMs: 3_600_000 }, 'silent-connections', '', '');
}

// ---- webhooks that need a credential --------------------------------------------------------------

const form = (params: Record<string, string>) => new URLSearchParams(params).toString();

/** Voice and stream-status webhooks with no, wrong, or wrong-URL signatures: held when none is 2xx. */
export async function forgedSignatures(t: Target): Promise<AttackResult> {
  const base = (t.publicBaseUrl ?? 'https://voice.example.com').replace(/\/+$/, '');
  const params = { CallSid: 'CA00000000000000000000000000000666', From: '+14155550100', To: '+14155550199' };
  const body = form(params);
  const wrongToken = computeSignature('not-the-token', `${base}/twilio/voice`, params);
  const wrongUrl = computeSignature(t.authToken ?? '', 'https://evil.example.com/twilio/voice', params);
  const tampered = computeSignature(t.authToken ?? '', `${base}/twilio/voice`, { ...params, From: '+1999' });
  const cases: [string, string, Record<string, string>][] = [
    ['missing', '/twilio/voice', {}],
    ['wrong-token', '/twilio/voice', { 'X-Twilio-Signature': wrongToken }],
    ['wrong-url', '/twilio/voice', { 'X-Twilio-Signature': wrongUrl }],
    ['tampered-params', '/twilio/voice', { 'X-Twilio-Signature': tampered }],
    ['garbage', '/twilio/voice', { 'X-Twilio-Signature': '%%%' }],
    ['status-missing', '/twilio/stream-status', {}],
    ['status-wrong', '/twilio/stream-status', { 'X-Twilio-Signature': wrongToken }],
  ];
  const answers = [];
  for (const [name, path, headers] of cases) {
    const r = await rawRequest(
      t,
      requestText('POST', path, { 'Content-Type': 'application/x-www-form-urlencoded', ...headers }, body),
    );
    answers.push({ name, status: r.status });
  }
  return {
    name: 'forged-signatures',
    held: answers.every((a) => a.status === 400 || a.status === 403),
    detail: { answers },
  };
}

/** elevenlabs-native data endpoints without / with a wrong token: held when none answers 2xx. */
export async function nativeWithoutToken(t: Target): Promise<AttackResult> {
  const body = JSON.stringify({ caller_id: '+14155550100', query: 'appointment', limit: 5 });
  const answers = [];
  for (const path of ['/elevenlabs/conversation-init', '/elevenlabs/tools/search-memory']) {
    for (const [name, headers] of [
      ['none', {}],
      ['empty-bearer', { Authorization: 'Bearer ' }],
      ['wrong-bearer', { Authorization: 'Bearer guessed-token' }],
      ['wrong-scheme', { Authorization: 'Basic Z3Vlc3M6Z3Vlc3M=' }],
      ['wrong-x-token', { 'X-Callfleet-Token': 'guessed-token' }],
    ] as [string, Record<string, string>][]) {
      const r = await rawRequest(
        t,
        requestText('POST', path, { 'Content-Type': 'application/json', ...headers }, body),
      );
      answers.push({ path, name, status: r.status, leaked: /dynamic_variables|results/.test(r.body) });
    }
  }
  return {
    name: 'native-without-token',
    held: answers.every((a) => a.status !== undefined && a.status >= 400 && !a.leaked),
    detail: { answers },
  };
}

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

/**
 * Every attack above with settings for a run beside live calls (the lead's under-attack load run):
 * each `run` returns whether the gateway held. `full` widens the path set and the slow-client count.
 */
export const ATTACKS: { name: string; run(t: Target, full?: boolean): Promise<AttackResult> }[] = [
  { name: 'path-confusion', run: (t, full) => pathConfusion(t, full) },
  { name: 'internal-on-public', run: (t) => internalOnPublic(t) },
  { name: 'endless-chunked-body', run: (t) => endlessChunkedBody(t, { giveUpMs: 5_000 }) },
  { name: 'declared-huge-body', run: (t) => declaredHugeBody(t) },
  {
    name: 'slow-headers',
    run: (t, full) => slowHeaders(t, { connections: full ? 200 : 10, everyMs: 500, deadlineMs: 8_000 }),
  },
  {
    name: 'slow-body',
    run: (t, full) => slowBody(t, { connections: full ? 200 : 10, everyMs: 500, deadlineMs: 13_000 }),
  },
  {
    name: 'silent-connections',
    run: (t, full) => silentConnections(t, { connections: full ? 200 : 10, deadlineMs: 18_000 }),
  },
  { name: 'forged-signatures', run: (t) => forgedSignatures(t) },
  { name: 'native-without-token', run: (t) => nativeWithoutToken(t) },
];
