// What a Node process really holds: its heap after a full garbage collection, asked through the
// inspector (the process runs with `--inspect=127.0.0.1:<port>`). The heap metrics a process exports
// count garbage not yet collected, so they move with the collector's schedule, not with what is cached.
import { WebSocket } from 'ws';

interface Target {
  webSocketDebuggerUrl: string;
}

/** Bytes of heap in use right after a full collection of the process whose inspector listens on `port`. */
export async function liveHeapBytes(port: number, timeoutMs = 60_000): Promise<number> {
  const [target] = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Target[];
  if (!target) throw new Error(`no inspector target on port ${port}`);
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  // Every wait ends when the socket does (closed, failed, or terminated at the deadline).
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
  const call = (method: string) => {
    const id = ++nextId;
    const answer = new Promise<Record<string, unknown>>((resolve) => answers.set(id, resolve));
    socket.send(JSON.stringify({ id, method }));
    return Promise.race([answer, ended]);
  };
  const timer = setTimeout(() => socket.terminate(), timeoutMs);
  try {
    await Promise.race([new Promise((resolve) => socket.once('open', resolve)), ended]);
    await call('HeapProfiler.collectGarbage');
    const usage = await call('Runtime.getHeapUsage');
    return Number(usage.usedSize);
  } finally {
    clearTimeout(timer);
    socket.close();
  }
}
