// Deletes recordings past their retention: the object first, then its index row (a crash between the
// two leaves a row whose object is gone, which the next sweep deletes again: S3 deletes are idempotent).
// The bucket's lifecycle rule (docs/guides/object-storage.md) is the backstop, not the mechanism.
import type pg from 'pg';
import type { Bucket } from '../storage/bucket.ts';
import { expiredRecordings } from './index-store.ts';

export async function sweepRecordings(pool: pg.Pool, bucket: Bucket, batch = 500): Promise<number> {
  let total = 0;
  for (;;) {
    const rows = await expiredRecordings(pool, batch);
    if (rows.length === 0) return total;
    await bucket.delete(rows.map((r) => r.objectKey));
    await pool.query('DELETE FROM call_recordings WHERE stream_sid = ANY($1::text[])', [
      rows.map((r) => r.streamSid),
    ]);
    total += rows.length;
    if (rows.length < batch) return total;
  }
}
