// Tests that dial on the real clock need a calling window that is open whenever they run.

/** An Etc/GMT zone whose local hour is `hour` at `now` (Etc/GMT-k is UTC+k). */
export function zoneAtHour(hour: number, now = new Date()): string {
  let k = (hour - now.getUTCHours() + 24) % 24;
  if (k > 14) k -= 24;
  return k === 0 ? 'Etc/UTC' : `Etc/GMT${k > 0 ? '-' : '+'}${Math.abs(k)}`;
}
