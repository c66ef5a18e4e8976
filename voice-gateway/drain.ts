// Drain: on SIGTERM readiness fails at once, new webhooks get the fallback, live calls continue;
// resolves when the last call ends or the grace deadline passes. Calls still up shortly before the
// deadline are ended with a goodbye, so nobody is cut mid-sentence.

export interface Drainable {
  activeCalls(): number;
  endAllPolitely(outcome: string): void;
  onCallEnded(listener: () => void): () => void;
}

export interface DrainOptions {
  gracePeriodMs: number;
  /** How long before the deadline calls still up are ended with a goodbye (time to hang up). */
  goodbyeLeadMs: number;
  /** Live-call hand-off: at `atMs` after the drain started, `run` hands the calls still live to other pods. */
  handoff?: { atMs: number; run: () => void } | undefined;
}

export function drainCalls(target: Drainable, o: DrainOptions): Promise<'drained' | 'deadline'> {
  return new Promise((resolve) => {
    if (target.activeCalls() === 0) return resolve('drained');
    const goodbyeAt = Math.max(0, o.gracePeriodMs - o.goodbyeLeadMs);
    const goodbye = setTimeout(() => target.endAllPolitely('drain_deadline'), goodbyeAt);
    const deadline = setTimeout(() => done('deadline'), o.gracePeriodMs);
    const handoff = o.handoff ? setTimeout(o.handoff.run, Math.max(0, o.handoff.atMs)) : undefined;
    const unsubscribe = target.onCallEnded(() => {
      if (target.activeCalls() === 0) done('drained');
    });
    function done(result: 'drained' | 'deadline') {
      clearTimeout(goodbye);
      clearTimeout(handoff);
      clearTimeout(deadline);
      unsubscribe();
      resolve(result);
    }
  });
}
