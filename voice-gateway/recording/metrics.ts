// Call-recording metrics on prom-client's default registry (collected from the pod's counters at
// scrape time, so the audio path only bumps plain numbers).
import client from 'prom-client';
import type { Recordings } from './recorder.ts';

let source: Recordings | undefined;

function once<T>(name: string, make: () => T): T {
  return (client.register.getSingleMetric(name) as T | undefined) ?? make();
}

function counter(name: string, help: string, read: (r: Recordings) => number) {
  return once(
    name,
    () =>
      new client.Counter({
        name,
        help,
        collect() {
          if (!source) return;
          this.reset();
          this.inc(read(source));
        },
      }),
  );
}

counter(
  'callfleet_recordings_started_total',
  'Call recordings started (one per media stream)',
  (r) => r.counters.started,
);
counter(
  'callfleet_recordings_completed_total',
  'Call recordings stored in the bucket and indexed',
  (r) => r.counters.completed,
);
counter(
  'callfleet_recordings_failed_total',
  'Call recordings not kept (upload or index failure, or audio lost past the buffer budget)',
  (r) => r.counters.failed,
);
counter(
  'callfleet_recording_dropped_bytes_total',
  'Recording bytes dropped instead of waiting (agent audio past the playback queue, segments past the buffer budget)',
  (r) => r.counters.droppedBytes,
);
counter(
  'callfleet_recording_stored_bytes_total',
  'Sealed recording bytes stored in the bucket',
  (r) => r.counters.storedBytes,
);
once(
  'callfleet_recording_buffered_bytes',
  () =>
    new client.Gauge({
      name: 'callfleet_recording_buffered_bytes',
      help: 'Recording bytes held in memory by the pod, waiting for upload',
      collect() {
        this.set(source ? source.bufferedBytes() : 0);
      },
    }),
);

export function exposeRecordingMetrics(recordings: Recordings): void {
  source = recordings;
}
