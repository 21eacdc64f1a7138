// Calendar grid maths over day keys (YYYY-MM-DD); weeks start on Monday.
import { addDays, parseKey, weekdayOf } from '../ui/dates';

export function startOfWeek(key: string): string {
  const wd = weekdayOf(key); // 0 = Sunday
  return addDays(key, -((wd + 6) % 7));
}

/** The days of `key`'s month as whole weeks (Monday first): 4 to 6 rows of 7. */
export function monthGrid(key: string): string[][] {
  const { year, month } = parseKey(key);
  const first = `${year}-${String(month).padStart(2, '0')}-01`;
  let day = startOfWeek(first);
  const weeks: string[][] = [];
  for (;;) {
    const week = Array.from({ length: 7 }, (_, i) => addDays(day, i));
    weeks.push(week);
    day = addDays(day, 7);
    const p = parseKey(day);
    if (p.month !== month || p.year !== year) break;
  }
  return weeks;
}

export function weekDays(key: string): string[] {
  const s = startOfWeek(key);
  return Array.from({ length: 7 }, (_, i) => addDays(s, i));
}

/** The same day (clamped) `n` months later. */
export function addMonths(key: string, n: number): string {
  const { year, month, day } = parseKey(key);
  const m0 = month - 1 + n;
  const y = year + Math.floor(m0 / 12);
  const m = ((m0 % 12) + 12) % 12;
  const last = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return `${y}-${String(m + 1).padStart(2, '0')}-${String(Math.min(day, last)).padStart(2, '0')}`;
}

/** Keyboard moves of a task: Shift+Arrow keys by a day or a week. */
export function keyMove(key: string): number | null {
  return ({ ArrowLeft: -1, ArrowRight: 1, ArrowUp: -7, ArrowDown: 7 } as Record<string, number>)[key] ?? null;
}
