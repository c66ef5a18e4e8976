// Campaign recipients in the MemoryStore: imported once from the campaign's CSV, phone and variables
// encrypted (AAD binds each value to its campaign and row), looked up by keyed hash; the do-not-call
// list every campaign honours; and what a data-rights erase does to pending recipients.
import type pg from 'pg';
import { decrypt, encrypt, type Keyring, normalizePhone, phoneHashes } from '../memory/store/crypto.ts';
import { rollback, withTransaction } from '../memory/store/transaction.ts';

export interface RecipientRow {
  phone: string;
  timeZone: string;
  priority: number;
  variables: Record<string, string>;
}

const aad = (campaign: string, idx: number, what: 'phone' | 'vars') => `campaign:${campaign}:${idx}:${what}`;

/** Inserts the recipients (idempotent per row index) and marks the campaign imported, in one transaction. */
export async function importRecipients(
  pool: pg.Pool,
  ring: Keyring,
  campaign: string,
  rows: RecipientRow[],
): Promise<void> {
  await withTransaction(pool, async (client) => {
    const done = await client.query('SELECT imported_at FROM campaign_runs WHERE campaign = $1 FOR UPDATE', [
      campaign,
    ]);
    if (done.rows[0]?.imported_at) return rollback(undefined);
    const key = ring.active;
    const dnc = await doNotCallSet(
      client,
      ring,
      rows.map((r) => r.phone),
    );
    for (let start = 0; start < rows.length; start += 500) {
      const batch = rows.slice(start, start + 500);
      const values: unknown[] = [];
      const tuples: string[] = [];
      batch.forEach((r, j) => {
        const idx = start + j;
        const hash = phoneHashes(ring, r.phone)[0] as Buffer;
        const b = values.length;
        tuples.push(
          `($1, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8}, $${b + 9})`,
        );
        values.push(
          idx,
          hash,
          encrypt(key, normalizePhone(r.phone), aad(campaign, idx, 'phone')),
          encrypt(key, JSON.stringify(r.variables), aad(campaign, idx, 'vars')),
          key.id,
          r.timeZone,
          r.priority,
          dnc.has(hash.toString('hex')) ? 'opted-out' : 'pending',
        );
      });
      await client.query(
        `INSERT INTO campaign_recipients (campaign, idx, phone_hash, phone_enc, vars_enc, key_id, tz, priority, state)
         VALUES ${tuples.join(',')} ON CONFLICT DO NOTHING`,
        [campaign, ...values],
      );
    }
    await client.query(
      `INSERT INTO campaign_runs (campaign, imported_at, total) VALUES ($1, now(), $2)
       ON CONFLICT (campaign) DO UPDATE SET imported_at = now(), total = $2`,
      [campaign, rows.length],
    );
  });
}

async function doNotCallSet(
  db: pg.PoolClient | pg.Pool,
  ring: Keyring,
  phones: string[],
): Promise<Set<string>> {
  const hashes = phones.flatMap((p) => phoneHashes(ring, p));
  if (!hashes.length) return new Set();
  const r = await db.query<{ phone_hash: Buffer }>(
    'SELECT phone_hash FROM do_not_call WHERE phone_hash = ANY($1::bytea[])',
    [hashes],
  );
  const listed = new Set(r.rows.map((x) => x.phone_hash.toString('hex')));
  // A number listed under an older key counts too: report it under its active-key hash.
  const out = new Set<string>();
  for (const p of phones) {
    const hs = phoneHashes(ring, p);
    if (hs.some((h) => listed.has(h.toString('hex')))) out.add((hs[0] as Buffer).toString('hex'));
  }
  return out;
}

export function decryptPhone(
  ring: Keyring,
  campaign: string,
  idx: number,
  keyId: string,
  blob: Buffer,
): string {
  return decrypt(ring, keyId, blob, aad(campaign, idx, 'phone'));
}

/** The per-recipient variables of the campaign call `callSid` (undefined: not a campaign call). */
export async function variablesForCall(
  pool: pg.Pool,
  ring: Keyring,
  callSid: string,
): Promise<Record<string, string> | undefined> {
  const r = await pool.query<{ campaign: string; idx: number; key_id: string; vars_enc: Buffer | null }>(
    `SELECT r.campaign, r.idx, r.key_id, r.vars_enc FROM campaign_attempts a
       JOIN campaign_recipients r ON r.campaign = a.campaign AND r.idx = a.idx
      WHERE a.call_sid = $1`,
    [callSid],
  );
  const row = r.rows[0];
  if (!row?.vars_enc) return undefined;
  return JSON.parse(decrypt(ring, row.key_id, row.vars_enc, aad(row.campaign, row.idx, 'vars')));
}

/**
 * Puts a number on the do-not-call list and takes it out of every campaign not yet final for it
 * (state opted-out; its encrypted number and variables are dropped).
 */
export async function addDoNotCall(
  pool: pg.Pool,
  ring: Keyring,
  phone: string,
  source: string,
): Promise<void> {
  const hashes = phoneHashes(ring, phone);
  await pool.query(
    'INSERT INTO do_not_call (phone_hash, source) VALUES ($1, $2) ON CONFLICT (phone_hash) DO NOTHING',
    [hashes[0], source],
  );
  await pool.query(
    `UPDATE campaign_recipients SET state = 'opted-out', phone_enc = NULL, vars_enc = NULL
      WHERE phone_hash = ANY($1::bytea[]) AND state = 'pending'`,
    [hashes],
  );
}

/** Whether a number is on the do-not-call list. */
export async function isDoNotCall(pool: pg.Pool, ring: Keyring, phone: string): Promise<boolean> {
  const r = await pool.query('SELECT 1 FROM do_not_call WHERE phone_hash = ANY($1::bytea[])', [
    phoneHashes(ring, phone),
  ]);
  return (r.rowCount ?? 0) > 0;
}

/** A data-rights erase: pending recipients with these number hashes are canceled and their data dropped. */
export async function eraseFromCampaigns(db: pg.PoolClient | pg.Pool, hashes: Buffer[]): Promise<number> {
  const exists = await db.query("SELECT to_regclass('campaign_recipients') AS t");
  if (!exists.rows[0]?.t) return 0;
  const r = await db.query(
    `UPDATE campaign_recipients SET state = 'canceled', phone_enc = NULL, vars_enc = NULL
      WHERE phone_hash = ANY($1::bytea[]) AND state = 'pending'`,
    [hashes],
  );
  return r.rowCount ?? 0;
}
