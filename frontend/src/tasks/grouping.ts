// Upcoming's rows: a header for each of the next days, each followed by its tasks.
import type { Task } from '../api/client';
import { addDays, dayKey, dayLabel, WEEKDAY_NAMES, weekdayOf } from '../ui/dates';

export type Row = { kind: 'header'; key: string; label: string; count: number } | { kind: 'task'; task: Task; index: number };

/** Rows of a list grouped by due day over [fromKey, fromKey + days). */
export function groupByDay(tasks: Task[], fromKey: string, days: number, tz: string, todayKey: string): Row[] {
  const byDay = new Map<string, Task[]>();
  for (const t of tasks) {
    if (!t.due_at) continue;
    const k = dayKey(new Date(t.due_at), tz);
    let l = byDay.get(k);
    if (!l) byDay.set(k, (l = []));
    l.push(t);
  }
  const rows: Row[] = [];
  let index = 0;
  for (let i = 0; i < days; i++) {
    const key = addDays(fromKey, i);
    const list = byDay.get(key) ?? [];
    const rel = dayLabel(key, todayKey);
    const [, m, d] = key.split('-');
    const weekday = WEEKDAY_NAMES[weekdayOf(key)]!;
    const label = rel === weekday || /^\w{3} \d/.test(rel) ? `${weekday} ${Number(d)}/${Number(m)}` : `${rel} · ${weekday} ${Number(d)}/${Number(m)}`;
    rows.push({ kind: 'header', key, label, count: list.length });
    for (const t of list) rows.push({ kind: 'task', task: t, index: index++ });
  }
  return rows;
}


/** Today's rows: the overdue ones under their own header, then today's. */
export function groupToday(tasks: Task[], tz: string, todayKey: string): Row[] {
  const overdue: Task[] = [];
  const today: Task[] = [];
  for (const t of tasks) {
    if (t.due_at && dayKey(new Date(t.due_at), tz) < todayKey) overdue.push(t);
    else today.push(t);
  }
  const rows: Row[] = [];
  let index = 0;
  if (overdue.length) {
    rows.push({ kind: 'header', key: 'overdue', label: 'Overdue', count: overdue.length });
    for (const t of overdue) rows.push({ kind: 'task', task: t, index: index++ });
  }
  rows.push({ kind: 'header', key: todayKey, label: `Today · ${WEEKDAY_NAMES[weekdayOf(todayKey)]} ${Number(todayKey.slice(8))}/${Number(todayKey.slice(5, 7))}`, count: today.length });
  for (const t of today) rows.push({ kind: 'task', task: t, index: index++ });
  return rows;
}
