// What a Node process really holds and where its CPU goes, asked through the inspector (the process
// runs with `--inspect=127.0.0.1:<port>`). The heap metrics a process exports count garbage not yet
// collected, so they move with the collector's schedule, not with what is cached.
import { WebSocket } from 'ws';

interface Target {
  webSocketDebuggerUrl: string;
}

interface InspectorSession {
  call(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Closes the session; `terminate` drops it at once (a deadline passed). */
  close(terminate?: boolean): void;
}

/** An inspector session with the process whose inspector listens on `port`. */
async function openInspector(port: number): Promise<InspectorSession> {
  const [target] = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Target[];
  if (!target) throw new Error(`no inspector target on port ${port}`);
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  // Every wait ends when the socket does (closed, failed, or terminated at a deadline).
  const ended = new Promise<never>((_, reject) => {
    socket.once('close', () => reject(new Error(`inspector on port ${port} closed`)));
    socket.once('error', reject);
  });
  ended.catch(() => undefined);
  const answers = new Map<number, (result: Record<string, unknown>) => void>();
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as { id?: number; result?: Record<string, unknown> };
    if (message.id !== undefined) answers.get(message.id)?.(message.result ?? {});
  });
  let nextId = 0;
  await Promise.race([new Promise((resolve) => socket.once('open', resolve)), ended]);
  return {
    call(method, params) {
      const id = ++nextId;
      const answer = new Promise<Record<string, unknown>>((resolve) => answers.set(id, resolve));
      socket.send(JSON.stringify({ id, method, params }));
      return Promise.race([answer, ended]);
    },
    close(terminate = false) {
      if (terminate) socket.terminate();
      else socket.close();
    },
  };
}

/** Bytes of heap in use right after a full collection of the process whose inspector listens on `port`. */
export async function liveHeapBytes(port: number, timeoutMs = 60_000): Promise<number> {
  const session = await openInspector(port);
  const timer = setTimeout(() => session.close(true), timeoutMs);
  try {
    await session.call('HeapProfiler.collectGarbage');
    const usage = await session.call('Runtime.getHeapUsage');
    return Number(usage.usedSize);
  } finally {
    clearTimeout(timer);
    session.close();
  }
}

/**
 * Starts V8's sampling CPU profiler in the process whose inspector listens on `port`; the function it
 * returns stops it and gives the profile (the `.cpuprofile` format Chrome DevTools and `node --cpu-prof`
 * use).
 */
export async function startCpuProfile(port: number): Promise<() => Promise<unknown>> {
  const session = await openInspector(port);
  await session.call('Profiler.enable');
  await session.call('Profiler.start');
  return async () => {
    try {
      const { profile } = await session.call('Profiler.stop');
      return profile;
    } finally {
      session.close();
    }
  };
}
