import type { Task } from '../api/client';
import { relativeDue } from '../ui/dates';
import { IconBell, IconClock, IconRepeat } from '../ui/icons';
import { withQuery } from '../ui/router';
import { PRIORITIES } from './data';
import { nextOccurrenceLabel } from './nextOccurrence';

export const ROW_HEIGHT = 60;
export const HEADER_HEIGHT = 44;

export function TaskRow(props: {
  task: Task;
  top: number;
  pos: number;
  setSize: number;
  now: Date;
  tz: string;
  current: boolean;
  selected: boolean;
  selecting: boolean;
  pending: boolean;
  onToggle: (t: Task) => void;
  onSelect: (t: Task) => void;
  onOpen: (t: Task) => void;
  onFocus: () => void;
}) {
  const { task: t, now, tz } = props;
  const due = t.due_at ? relativeDue(t.due_at, t.all_day, now, tz) : null;
  const done = t.status === 'done' || props.pending;
  const prio = PRIORITIES.find((p) => p.value === t.priority);
  const next = t.recurrence ? nextOccurrenceLabel(t, now, tz) : null;
  return (
    <div
      class={`task-row${props.current ? ' is-current' : ''}${props.selected ? ' is-selected' : ''}${done ? ' is-done' : ''}`}
      role="listitem"
      aria-setsize={props.setSize}
      aria-posinset={props.pos}
      data-task-id={t.id}
      style={{ transform: `translateY(${props.top}px)` }}
    >
      {props.selecting && (
        <input
          type="checkbox"
          class="select-box"
          aria-label={`Select ${t.title}`}
          checked={props.selected}
          onChange={() => props.onSelect(t)}
        />
      )}
      <input
        type="checkbox"
        class={`check prio-${t.priority}`}
        aria-label={`${done ? 'Reopen' : 'Complete'} ${t.title}`}
        checked={done}
        onChange={() => props.onToggle(t)}
      />
      <div class="task-main">
        <a
          class="task-title"
          href={withQuery({ task: t.id })}
          onFocus={props.onFocus}
          onClick={(e) => {
            if (e.button !== 0 || e.metaKey || e.ctrlKey) return;
            e.preventDefault();
            props.onOpen(t);
          }}
        >
          {t.title}
          {props.selected && <span class="visually-hidden"> (selected)</span>}
        </a>
        <div class="task-meta">
          {due && (
            <span class={`due${due.overdue && t.status === 'open' ? ' overdue' : ''}`} title={due.full}>
              <IconClock />
              {due.text}
              {due.overdue && t.status === 'open' && <span class="visually-hidden"> (overdue)</span>}
            </span>
          )}
          {t.recurrence && (
            <span class="recur" title={`Repeats ${t.recurrence.text}`}>
              <IconRepeat />
              <span class="visually-hidden">Repeats {t.recurrence.text}, </span>
              {next ? `next ${next}` : t.recurrence.text}
            </span>
          )}
          {t.reminders.length > 0 && (
            <span class="rem" title={`${t.reminders.length} reminder${t.reminders.length > 1 ? 's' : ''}`}>
              <IconBell />
              <span class="visually-hidden">{t.reminders.length} reminders</span>
            </span>
          )}
          {t.tags.map((tag) => (
            <span class="tag" key={tag}>#{tag}</span>
          ))}
        </div>
      </div>
      {prio && prio.short && <span class={`prio-badge prio-text-${t.priority}`} title={prio.label}>{prio.short}</span>}
    </div>
  );
}
