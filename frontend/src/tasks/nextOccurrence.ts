import type { Task } from '../api/client';
import { dayKey, dayLabel, hhmm } from '../ui/dates';

export function nextOccurrenceLabel(task: Task, now: Date, tz: string): string | null {
  // The next occurrence after this one (the first of `next` may be its own due date;
  // an all-day task's own day counts as this one, whatever the rule's time of day).
  const after = (n: string): boolean => {
    if (!task.due_at) return true;
    if (task.all_day) return dayKey(new Date(n), tz) > dayKey(new Date(task.due_at), tz);
    return new Date(n).getTime() > new Date(task.due_at).getTime();
  };
  const next = task.recurrence?.next?.find(after);
  if (!next) return null;
  const d = new Date(next);
  return `${dayLabel(dayKey(d, tz), dayKey(now, tz))}${task.all_day ? '' : ` ${hhmm(d, tz)}`}`;
}
