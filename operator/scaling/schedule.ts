// Scheduled minimums: while a window (e.g. business hours) is active, the fleet keeps at least its
// minReplicas, whatever the autoscaler wrote. A window whose end is before its start runs overnight and
// belongs to the day it starts on.
export interface ScheduleWindow {
  name: string;
  days: readonly string[];
  start: string;
  end: string;
  timeZone: string;
  minReplicas: number;
}

const WEEKDAY_INDEX: Record<string, number> = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 };

function minutes(hhmm: string): number {
  const [h = '0', m = '0'] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}

function localDayAndMinute(now: Date, timeZone: string): { day: number; minute: number } {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(now);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return {
    day: WEEKDAY_INDEX[get('weekday')] ?? 0,
    minute: Number(get('hour')) * 60 + Number(get('minute')),
  };
}

export function isWindowActive(window: ScheduleWindow, now: Date): boolean {
  const { day, minute } = localDayAndMinute(now, window.timeZone);
  const start = minutes(window.start);
  const end = minutes(window.end);
  const onDay = (d: number) => window.days.some((name) => WEEKDAY_INDEX[name] === d);
  if (start <= end) return onDay(day) && minute >= start && minute < end;
  // Overnight: the evening part on a listed day, or the morning part the day after one.
  return (onDay(day) && minute >= start) || (onDay((day + 6) % 7) && minute < end);
}

/** The highest minReplicas among the windows active now (0 when none is). */
export function scheduledMinimum(windows: readonly ScheduleWindow[] | undefined, now: Date): number {
  return Math.max(0, ...(windows ?? []).filter((w) => isWindowActive(w, now)).map((w) => w.minReplicas));
}
