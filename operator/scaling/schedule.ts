// Scheduled minimums: while a window (e.g. business hours) is active, the fleet keeps at least its
// minReplicas, whatever the autoscaler wrote. A window whose end is before its start runs overnight and
// belongs to the day it starts on.
import { localTime, minutesOf, WEEKDAY_INDEX } from '../local-time.ts';

export interface ScheduleWindow {
  name: string;
  days: readonly string[];
  start: string;
  end: string;
  timeZone: string;
  minReplicas: number;
}

export function isWindowActive(window: ScheduleWindow, now: Date): boolean {
  const { day, minute } = localTime(now, window.timeZone);
  const start = minutesOf(window.start);
  const end = minutesOf(window.end);
  const onDay = (d: number) => window.days.some((name) => WEEKDAY_INDEX[name] === d);
  if (start <= end) return onDay(day) && minute >= start && minute < end;
  // Overnight: the evening part on a listed day, or the morning part the day after one.
  return (onDay(day) && minute >= start) || (onDay((day + 6) % 7) && minute < end);
}

/** The highest minReplicas among the windows active now (0 when none is). */
export function scheduledMinimum(windows: readonly ScheduleWindow[] | undefined, now: Date): number {
  return Math.max(0, ...(windows ?? []).filter((w) => isWindowActive(w, now)).map((w) => w.minReplicas));
}
