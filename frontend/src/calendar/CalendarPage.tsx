// The calendar, month and week: tasks on their due days; move one to another day
// by drag and drop, or with Shift+Arrow keys on the focused task.
import { useEffect, useState } from 'preact/hooks';
import type { Task } from '../api/client';
import { userTz } from '../api/session';
import { listTasks, onTaskEvent, patchTask } from '../tasks/data';
import { addDays, dayKey, hhmm, MONTH_NAMES, parseKey, WEEKDAY_NAMES, weekdayOf, zonedParts, zonedToInstant } from '../ui/dates';
import { Link, navigate, useLocation, withQuery } from '../ui/router';
import { showError } from '../ui/toast';
import { addMonths, keyMove, monthGrid, weekDays } from './calendar';

function longDay(key: string): string {
  const p = parseKey(key);
  return `${WEEKDAY_NAMES[weekdayOf(key)]} ${p.day} ${MONTH_NAMES[p.month - 1]}`;
}

export function CalendarPage() {
  const loc = useLocation();
  const tz = userTz();
  const today = dayKey(new Date(), tz);
  const mode = loc.query.get('mode') === 'week' ? 'week' : 'month';
  const date = /^\d{4}-\d{2}-\d{2}$/.test(loc.query.get('date') ?? '') ? loc.query.get('date')! : today;
  const weeks = mode === 'month' ? monthGrid(date) : [weekDays(date)];
  const first = weeks[0]![0]!;
  const last = weeks[weeks.length - 1]![6]!;
  const [tasks, setTasks] = useState<Task[]>([]);
  const [announce, setAnnounce] = useState('');
  const [dragOver, setDragOver] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  useEffect(() => {
    let cancelled = false;
    (async () => {
      const q = {
        status: 'open' as const,
        due_after: zonedToInstant(first, 0, 0, tz).toISOString(),
        due_before: zonedToInstant(addDays(last, 1), 0, 0, tz).toISOString(),
        sort: 'due',
        limit: 200,
      };
      const all: Task[] = [];
      let cursor: string | null | undefined = null;
      do {
        const page = await listTasks(q, cursor);
        all.push(...page.items);
        cursor = page.next_cursor;
      } while (cursor && all.length < 2000);
      if (!cancelled) setTasks(all);
    })().catch(showError);
    return () => {
      cancelled = true;
    };
  }, [first, last, tz, reload]);
  useEffect(
    () =>
      onTaskEvent((e) => {
        if (e.type === 'upsert') setTasks((l) => l.map((x) => (x.id === e.task.id ? e.task : x)).filter((x) => x.status === 'open'));
        else setReload((n) => n + 1);
      }),
    [],
  );
  const byDay = new Map<string, Task[]>();
  for (const t of tasks) {
    if (!t.due_at) continue;
    const k = dayKey(new Date(t.due_at), tz);
    byDay.set(k, [...(byDay.get(k) ?? []), t]);
  }
  const move = async (t: Task, to: string, refocus = false) => {
    if (!t.due_at) return;
    const from = dayKey(new Date(t.due_at), tz);
    if (from === to) return;
    try {
      let updated: Task;
      if (t.all_day) updated = await patchTask(t.id, { due: to, version: t.version });
      else {
        const p = zonedParts(new Date(t.due_at), tz);
        updated = await patchTask(t.id, { due_at: zonedToInstant(to, p.hour, p.minute, tz).toISOString(), version: t.version });
      }
      setTasks((l) => l.map((x) => (x.id === t.id ? updated : x)));
      setAnnounce(`Moved “${t.title}” to ${longDay(to)}.`);
      if (refocus) requestAnimationFrame(() => document.querySelector<HTMLElement>(`[data-cal-task="${CSS.escape(t.id)}"]`)?.focus());
    } catch (e) {
      showError(e);
    }
  };
  const step = (n: number) => (mode === 'month' ? addMonths(date, n) : addDays(date, 7 * n));
  const p = parseKey(date);
  const title = mode === 'month' ? `${MONTH_NAMES[p.month - 1]} ${p.year}` : `Week of ${longDay(weeks[0]![0]!)}`;
  return (
    <>
      <div class="title-row">
        <h1 class="page-title">Calendar · {title}</h1>
        <div class="row wrap" role="group" aria-label="Calendar navigation">
          <Link class="btn btn-small" href={withQuery({ date: step(-1) })} aria-label={mode === 'month' ? 'Previous month' : 'Previous week'}>‹</Link>
          <Link class="btn btn-small" href={withQuery({ date: null })}>Today</Link>
          <Link class="btn btn-small" href={withQuery({ date: step(1) })} aria-label={mode === 'month' ? 'Next month' : 'Next week'}>›</Link>
          <Link class="btn btn-small" href={withQuery({ mode: 'month' })} aria-current={mode === 'month' ? 'page' : undefined}>Month</Link>
          <Link class="btn btn-small" href={withQuery({ mode: 'week' })} aria-current={mode === 'week' ? 'page' : undefined}>Week</Link>
        </div>
      </div>
      <p class="hint" id="cal-hint">Drag a task to another day, or focus it and press Shift + arrow keys (a day left or right, a week up or down).</p>
      <p class="visually-hidden" role="status">{announce}</p>
      <div class={`cal cal-mode-${mode}`}>
        <div class="cal-head" aria-hidden="true">
          {['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].map((d) => <div>{d}</div>)}
        </div>
        {weeks.map((week) => (
          <div class="cal-week">
            {week.map((k) => {
              const list = byDay.get(k) ?? [];
              const other = mode === 'month' && parseKey(k).month !== p.month;
              return (
                <section
                  class={`cal-day${k === today ? ' is-today' : ''}${other ? ' is-other' : ''}${dragOver === k ? ' is-over' : ''}`}
                  aria-label={`${longDay(k)}${k === today ? ', today' : ''}, ${list.length} task${list.length === 1 ? '' : 's'}`}
                  data-day={k}
                  onDragOver={(e) => {
                    e.preventDefault();
                    setDragOver(k);
                  }}
                  onDragLeave={() => setDragOver((d) => (d === k ? null : d))}
                  onDrop={(e) => {
                    e.preventDefault();
                    setDragOver(null);
                    const id = e.dataTransfer?.getData('text/plain');
                    const t = tasks.find((x) => x.id === id);
                    if (t) move(t, k);
                  }}
                >
                  <p class="cal-num" aria-hidden="true">
                    {mode === 'week' && <span class="cal-wd">{WEEKDAY_NAMES[weekdayOf(k)]!.slice(0, 3)}</span>}
                    {parseKey(k).day}
                  </p>
                  <ul class="plain">
                    {list.map((t) => (
                      <li>
                        <button
                          type="button"
                          class={`cal-task prio-border-${t.priority}`}
                          draggable
                          data-cal-task={t.id}
                          aria-describedby="cal-hint"
                          onDragStart={(e) => {
                            e.dataTransfer?.setData('text/plain', t.id);
                            if (e.dataTransfer) e.dataTransfer.effectAllowed = 'move';
                          }}
                          onClick={() => navigate(withQuery({ task: t.id }))}
                          onKeyDown={(e) => {
                            const d = e.shiftKey ? keyMove(e.key) : null;
                            if (d === null) return;
                            e.preventDefault();
                            move(t, addDays(k, d), true);
                          }}
                        >
                          {!t.all_day && <span class="muted">{hhmm(new Date(t.due_at!), tz)} </span>}
                          {t.title}
                        </button>
                      </li>
                    ))}
                  </ul>
                </section>
              );
            })}
          </div>
        ))}
      </div>
    </>
  );
}
