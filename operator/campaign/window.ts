// Calling windows in each recipient's local time, and the time zone a number implies when the CSV
// gives none: a single-zone country by its calling code, North America by area code (a small table of
// the most populous ones; others fall back to the campaign's zone).
import { localTime, minutesOf, WEEKDAY_INDEX } from '../local-time.ts';

export interface CallingWindow {
  start: string;
  end: string;
  days: readonly string[];
}

export function inWindow(w: CallingWindow, timeZone: string, now: Date): boolean {
  const { day, minute } = localTime(now, timeZone);
  return (
    w.days.some((d) => WEEKDAY_INDEX[d] === day) && minute >= minutesOf(w.start) && minute < minutesOf(w.end)
  );
}

/**
 * When the window next opens for this zone (now when it is open): 5-minute steps forward, then back
 * to the exact minute. Stepping in real time honours daylight-saving shifts; at most 8 days ahead.
 */
export function nextOpen(w: CallingWindow, timeZone: string, now: Date): Date {
  if (inWindow(w, timeZone, now)) return now;
  const minute = Math.floor(now.getTime() / 60_000) * 60_000 + 60_000;
  const limit = minute + 8 * 86_400_000;
  for (let t = minute; t < limit; t += 300_000) {
    if (!inWindow(w, timeZone, new Date(t))) continue;
    let first = t;
    while (first - 60_000 > now.getTime() && inWindow(w, timeZone, new Date(first - 60_000))) first -= 60_000;
    return new Date(first);
  }
  return new Date(limit);
}

const COUNTRY_ZONES: [string, string][] = [
  ['44', 'Europe/London'],
  ['49', 'Europe/Berlin'],
  ['33', 'Europe/Paris'],
  ['34', 'Europe/Madrid'],
  ['39', 'Europe/Rome'],
  ['31', 'Europe/Amsterdam'],
  ['32', 'Europe/Brussels'],
  ['41', 'Europe/Zurich'],
  ['43', 'Europe/Vienna'],
  ['45', 'Europe/Copenhagen'],
  ['46', 'Europe/Stockholm'],
  ['47', 'Europe/Oslo'],
  ['48', 'Europe/Warsaw'],
  ['353', 'Europe/Dublin'],
  ['351', 'Europe/Lisbon'],
  ['358', 'Europe/Helsinki'],
  ['30', 'Europe/Athens'],
  ['81', 'Asia/Tokyo'],
  ['82', 'Asia/Seoul'],
  ['91', 'Asia/Kolkata'],
  ['65', 'Asia/Singapore'],
  ['852', 'Asia/Hong_Kong'],
  ['972', 'Asia/Jerusalem'],
  ['971', 'Asia/Dubai'],
  ['64', 'Pacific/Auckland'],
  ['27', 'Africa/Johannesburg'],
];

// North American area codes → zone (a sample of the largest; the rest use the campaign's zone).
const AREA_ZONES: Record<string, string> = {
  '201': 'America/New_York',
  '202': 'America/New_York',
  '212': 'America/New_York',
  '215': 'America/New_York',
  '305': 'America/New_York',
  '404': 'America/New_York',
  '407': 'America/New_York',
  '617': 'America/New_York',
  '646': 'America/New_York',
  '718': 'America/New_York',
  '917': 'America/New_York',
  '416': 'America/Toronto',
  '312': 'America/Chicago',
  '214': 'America/Chicago',
  '713': 'America/Chicago',
  '512': 'America/Chicago',
  '612': 'America/Chicago',
  '773': 'America/Chicago',
  '303': 'America/Denver',
  '801': 'America/Denver',
  '602': 'America/Phoenix',
  '480': 'America/Phoenix',
  '213': 'America/Los_Angeles',
  '310': 'America/Los_Angeles',
  '415': 'America/Los_Angeles',
  '408': 'America/Los_Angeles',
  '206': 'America/Los_Angeles',
  '503': 'America/Los_Angeles',
  '619': 'America/Los_Angeles',
  '702': 'America/Los_Angeles',
  '604': 'America/Vancouver',
  '907': 'America/Anchorage',
  '808': 'Pacific/Honolulu',
};

/** The zone a number implies, or undefined when it does not imply exactly one. */
export function zoneOfNumber(e164: string): string | undefined {
  const digits = e164.replace(/^\+/, '');
  if (digits.startsWith('1')) return AREA_ZONES[digits.slice(1, 4)];
  for (const [code, zone] of COUNTRY_ZONES) if (digits.startsWith(code)) return zone;
  return undefined;
}
