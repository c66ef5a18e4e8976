// Call-recording metrics on the registry the gateway injects (collected from the pod's counters at
// scrape time, so the audio path only bumps plain numbers). One set per registry; registering again
// on the same registry (another runtime in the same process) only points it at the new recorders.
import { Counter, register as defaultRegistry, Gauge, type Registry } from 'prom-client';
import type { Recordings } from './recorder.ts';

type Counters = Recordings['counters'];

/** Counter name, help text, and the recorder counter it reports. */
const COUNTERS: readonly [name: string, help: string, field: keyof Counters][] = [
  ['callfleet_recordings_started_total', 'Call recordings started (one per media stream)', 'started'],
  ['callfleet_recordings_completed_total', 'Call recordings stored in the bucket and indexed', 'completed'],
  [
    'callfleet_recordings_failed_total',
    'Call recordings not kept (upload or index failure, or audio lost past the buffer budget)',
    'failed',
  ],
  [
    'callfleet_recording_dropped_bytes_total',
    'Recording bytes dropped instead of waiting (agent audio past the playback queue, segments past the buffer budget)',
    'droppedBytes',
  ],
  ['callfleet_recording_stored_bytes_total', 'Sealed recording bytes stored in the bucket', 'storedBytes'],
];

const sources = new WeakMap<Registry, { recordings: Recordings }>();

/** Reports `recordings` on `registry` (prom-client's default one when none is injected). */
export function exposeRecordingMetrics(registry: Registry = defaultRegistry, recordings: Recordings): void {
  const known = sources.get(registry);
  if (known) {
    known.recordings = recordings;
    return;
  }
  const source = { recordings };
  sources.set(registry, source);
  for (const [name, help, field] of COUNTERS) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(source.recordings.counters[field]);
      },
    });
  }
  new Gauge({
    name: 'callfleet_recording_buffered_bytes',
    help: 'Recording bytes held in memory by the pod, waiting for upload',
    registers: [registry],
    collect() {
      this.set(source.recordings.bufferedBytes());
    },
  });
}
