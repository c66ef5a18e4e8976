// The recipients CSV (RFC 4180: a header row, quoted fields may hold commas, quotes and newlines).
// Errors name the line, never its content (it is personal data).
import { isTimeZone } from '../../cdk8s/api/v1alpha1/voiceagent.ts';
import type { RecipientRow } from '../../voice-gateway/campaign/recipients.ts';

export const MAX_RECIPIENTS = 100_000;
const E164 = /^\+[1-9][0-9]{7,14}$/;

export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      field = '';
      if (row.some((f) => f !== '')) rows.push(row);
      row = [];
    } else field += c;
  }
  if (quoted) throw new Error('recipients CSV: unterminated quoted field');
  row.push(field);
  if (row.some((f) => f !== '')) rows.push(row);
  return rows;
}

export interface Columns {
  phoneColumn: string;
  timeZoneColumn: string;
  priorityColumn: string;
}

/** CSV text → recipients; throws naming the line and column of the first bad value. */
export function recipientsFromCsv(
  text: string,
  c: Columns,
  derive: (phone: string) => string | undefined,
  fallbackTz: string,
): RecipientRow[] {
  const [header, ...rows] = parseCsv(text);
  if (!header) throw new Error('recipients CSV: empty (a header row is required)');
  const names = header.map((h) => h.trim());
  const phoneAt = names.indexOf(c.phoneColumn);
  if (phoneAt < 0) throw new Error(`recipients CSV: no column "${c.phoneColumn}" in the header`);
  if (rows.length > MAX_RECIPIENTS)
    throw new Error(`recipients CSV: ${rows.length} rows, at most ${MAX_RECIPIENTS}`);
  const tzAt = names.indexOf(c.timeZoneColumn);
  const prioAt = names.indexOf(c.priorityColumn);
  return rows.map((cells, i) => {
    const line = i + 2;
    if (cells.length !== names.length)
      throw new Error(`recipients CSV line ${line}: ${cells.length} fields, the header has ${names.length}`);
    const phone = (cells[phoneAt] ?? '').trim();
    if (!E164.test(phone))
      throw new Error(`recipients CSV line ${line}: column ${c.phoneColumn} is not an E.164 number`);
    const tzCell = tzAt >= 0 ? (cells[tzAt] ?? '').trim() : '';
    if (tzCell && !isTimeZone(tzCell))
      throw new Error(`recipients CSV line ${line}: column ${c.timeZoneColumn} is not an IANA time zone`);
    const prioCell = prioAt >= 0 ? (cells[prioAt] ?? '').trim() : '';
    if (prioCell && !/^-?\d{1,6}$/.test(prioCell))
      throw new Error(`recipients CSV line ${line}: column ${c.priorityColumn} is not an integer`);
    const variables: Record<string, string> = {};
    names.forEach((n, j) => {
      if (j !== phoneAt && j !== tzAt && j !== prioAt) variables[n] = cells[j] ?? '';
    });
    return {
      phone,
      timeZone: tzCell || derive(phone) || fallbackTz,
      priority: prioCell ? Number(prioCell) : 0,
      variables,
    };
  });
}
