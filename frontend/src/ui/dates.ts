// Dates in the user's timezone (from the profile, not the browser's), with Intl
// only: day keys (YYYY-MM-DD), zoned wall time <-> instants, and the relative
// labels of the task list ("Tomorrow 17:00").

export interface Parts {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  weekday: number; // 0 = Sunday
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function fmt(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
    });
    formatters.set(tz, f);
  }
  return f;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
export const WEEKDAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
export const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
export const MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

export function zonedParts(d: Date, tz: string): Parts {
  const out: Record<string, string> = {};
  for (const p of fmt(tz).formatToParts(d)) out[p.type] = p.value;
  return {
    year: Number(out.year),
    month: Number(out.month),
    day: Number(out.day),
    hour: Number(out.hour) % 24,
    minute: Number(out.minute),
    weekday: WEEKDAYS.indexOf(out.weekday ?? 'Sun'),
  };
}

const pad = (n: number) => String(n).padStart(2, '0');

export function dayKey(d: Date, tz: string): string {
  const p = zonedParts(d, tz);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
}

export function parseKey(key: string): { year: number; month: number; day: number } {
  const [y, m, d] = key.split('-').map(Number);
  return { year: y!, month: m!, day: d! };
}

/** Days from key `a` to key `b` (b - a). */
export function daysBetween(a: string, b: string): number {
  const pa = parseKey(a);
  const pb = parseKey(b);
  return Math.round((Date.UTC(pb.year, pb.month - 1, pb.day) - Date.UTC(pa.year, pa.month - 1, pa.day)) / 86_400_000);
}

export function addDays(key: string, n: number): string {
  const p = parseKey(key);
  const d = new Date(Date.UTC(p.year, p.month - 1, p.day + n));
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** Weekday of a day key, 0 = Sunday. */
export function weekdayOf(key: string): number {
  const p = parseKey(key);
  return new Date(Date.UTC(p.year, p.month - 1, p.day)).getUTCDay();
}

function offsetMinutes(utcMs: number, tz: string): number {
  const p = zonedParts(new Date(utcMs), tz);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute);
  return Math.round((asUtc - Math.floor(utcMs / 60_000) * 60_000) / 60_000);
}

/** The instant of wall time `key` `hour:minute` in `tz` (the later one in a DST gap). */
export function zonedToInstant(key: string, hour: number, minute: number, tz: string): Date {
  const p = parseKey(key);
  const wall = Date.UTC(p.year, p.month - 1, p.day, hour, minute);
  let guess = wall - offsetMinutes(wall, tz) * 60_000;
  guess = wall - offsetMinutes(guess, tz) * 60_000;
  return new Date(guess);
}

export function hhmm(d: Date, tz: string): string {
  const p = zonedParts(d, tz);
  return `${pad(p.hour)}:${pad(p.minute)}`;
}

/** "Today", "Tomorrow", "Yesterday", a weekday within the week ahead, else "Dec 12" (with the year when not this one). */
export function dayLabel(key: string, todayKey: string): string {
  const diff = daysBetween(todayKey, key);
  if (diff === 0) return 'Today';
  if (diff === 1) return 'Tomorrow';
  if (diff === -1) return 'Yesterday';
  if (diff > 1 && diff < 7) return WEEKDAY_NAMES[weekdayOf(key)]!;
  const p = parseKey(key);
  const t = parseKey(todayKey);
  return `${MONTHS[p.month - 1]} ${p.day}${p.year === t.year ? '' : ` ${p.year}`}`;
}

export interface DueLabel {
  text: string;
  overdue: boolean;
  /** A full date for screen readers and tooltips. */
  full: string;
}

export function relativeDue(dueAt: string, allDay: boolean, now: Date, tz: string): DueLabel {
  const due = new Date(dueAt);
  const key = dayKey(due, tz);
  const today = dayKey(now, tz);
  const day = dayLabel(key, today);
  const text = allDay ? day : `${day} ${hhmm(due, tz)}`;
  const overdue = allDay ? daysBetween(today, key) < 0 : due.getTime() < now.getTime();
  const p = parseKey(key);
  const full = `${WEEKDAY_NAMES[weekdayOf(key)]} ${p.day} ${MONTH_NAMES[p.month - 1]} ${p.year}${allDay ? '' : ` ${hhmm(due, tz)}`}`;
  return { text, overdue, full };
}

/** "in 4 min", "2 h ago": for time left on a confirmation and the like. */
export function relativeSpan(ms: number): string {
  const past = ms < 0;
  const s = Math.round(Math.abs(ms) / 1000);
  let t: string;
  if (s < 60) t = `${s} s`;
  else if (s < 3600) t = `${Math.floor(s / 60)} min${s % 60 && s < 600 ? ` ${s % 60} s` : ''}`;
  else if (s < 86400) t = `${Math.floor(s / 3600)} h`;
  else t = `${Math.floor(s / 86400)} d`;
  return past ? `${t} ago` : `in ${t}`;
}

/** Minutes from now until 09:00 tomorrow in tz (the "tomorrow" snooze). */
export function minutesUntilTomorrowMorning(now: Date, tz: string): number {
  const at = zonedToInstant(addDays(dayKey(now, tz), 1), 9, 0, tz);
  return Math.max(1, Math.round((at.getTime() - now.getTime()) / 60_000));
}

export function formatInstant(iso: string, tz: string): string {
  const d = new Date(iso);
  const key = dayKey(d, tz);
  const p = parseKey(key);
  return `${p.day} ${MONTHS[p.month - 1]} ${p.year} ${hhmm(d, tz)}`;
}

/** Text with every RFC 3339 instant in it written in the user's timezone ("due 2 Dec 2026 09:00"). */
export function localiseInstants(text: string, tz: string): string {
  return text.replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})/g, (m) =>
    Number.isNaN(Date.parse(m)) ? m : formatInstant(m, tz),
  );
}
