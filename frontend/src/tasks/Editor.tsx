// The task editor: a side pane at its own URL (?task=<id> on any view). Each
// field saves on its own (PATCH with the version last seen; a stale one reloads).
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, ok, type AuditRecord, type Task, type TaskPatch, type Workflow } from '../api/client';
import { userTz } from '../api/session';
import { parseText } from '../quick-add/parse';
import { dayKey, formatInstant, hhmm, MONTHS, relativeDue, WEEKDAY_NAMES, zonedParts, zonedToInstant } from '../ui/dates';
import { navigate, withQuery, Link } from '../ui/router';
import { useStore } from '../ui/store';
import { showError, showToast } from '../ui/toast';
import { completeTask, deleteTask, getTask, onTaskEvent, patchTask, PRIORITIES, reopenTask } from './data';
import { statusText } from '../workflows/status';
import { tags as tagStore } from './sidebar';

const PRESETS = ['every day', 'every weekday', 'every week', 'every other week', 'every month', 'every year'];
const BEFORE = [
  [0, 'At the due time'],
  [10, '10 minutes before'],
  [30, '30 minutes before'],
  [60, '1 hour before'],
  [1440, '1 day before'],
] as const;

/** "Mon 14 Dec 08:00 · Tue 15 Dec 08:00 · …" */
export function nextList(next: string[], allDay: boolean, tz: string): string {
  return next
    .map((n) => {
      const d = new Date(n);
      const p = zonedParts(d, tz);
      return `${WEEKDAY_NAMES[p.weekday]!.slice(0, 3)} ${p.day} ${MONTHS[p.month - 1]}${allDay ? '' : ` ${hhmm(d, tz)}`}`;
    })
    .join(' · ');
}
/** The words of a recurrence as a person would type them again. */
function wordsOf(text: string | undefined): string {
  return (text ?? '').replace(/,? counted from completion/, '');
}

export function EditorPane({ id }: { id: string }) {
  const [task, setTask] = useState<Task | null>(null);
  const [error, setError] = useState<string | null>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);
  const close = () => navigate(withQuery({ task: null }));
  useEffect(() => {
    setTask(null);
    setError(null);
    getTask(id).then(setTask, (e) => setError(e instanceof Error ? e.message : String(e)));
  }, [id]);
  useEffect(
    () =>
      onTaskEvent((e) => {
        if (e.type === 'upsert' && e.task.id === id) setTask(e.task);
        if (e.type === 'remove' && e.id === id) close();
      }),
    [id],
  );
  useEffect(() => {
    if (task) headingRef.current?.focus();
  }, [task?.id]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && !document.querySelector('dialog[open]')) close();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, []);
  return (
    <aside class="editor" aria-labelledby="editor-heading">
      <div class="editor-head">
        <h2 id="editor-heading" tabIndex={-1} ref={headingRef}>Edit task</h2>
        <button type="button" class="btn btn-icon" aria-label="Close the task" onClick={close}>×</button>
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {!task && !error && <p class="muted">Loading…</p>}
      {task && <EditorForm key={task.id} task={task} setTask={setTask} />}
    </aside>
  );
}

function EditorForm({ task, setTask }: { task: Task; setTask: (t: Task) => void }) {
  const tz = userTz();
  const save = async (patch: TaskPatch, what: string) => {
    try {
      const t = await patchTask(task.id, { ...patch, version: task.version });
      setTask(t);
      showToast(`Saved ${what}`, { timeoutMs: 2000 });
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) {
        setTask(await getTask(task.id));
        showToast('The task changed elsewhere; it was reloaded. Try again.', { kind: 'error' });
      } else showError(e);
      return false;
    }
  };
  return (
    <div class="editor-body">
      <div class="row">
        <input
          type="checkbox"
          class={`check prio-${task.priority}`}
          aria-label={task.status === 'done' ? 'Reopen the task' : 'Complete the task'}
          checked={task.status === 'done'}
          onChange={() => (task.status === 'done' ? reopenTask(task.id) : completeTask(task.id)).then(setTask, showError)}
        />
        <TitleField task={task} save={save} />
      </div>
      <DescriptionField task={task} save={save} />
      <div class="grid2">
        <PriorityField task={task} save={save} />
        <DueField task={task} save={save} tz={tz} />
      </div>
      <TagsField task={task} save={save} />
      <RemindersField task={task} save={save} tz={tz} />
      <RecurrenceField task={task} save={save} tz={tz} />
      <TaskWorkflows task={task} tz={tz} setTaskLocal={setTask} />
      <Activity task={task} tz={tz} />
      <div class="row-end danger-zone">
        <button
          type="button"
          class="btn btn-danger"
          onClick={() => deleteTask(task.id).then(() => showToast(`Deleted “${task.title}”`), showError)}
        >
          Delete task
        </button>
      </div>
    </div>
  );
}

type Save = (p: TaskPatch, what: string) => Promise<boolean>;

function TitleField({ task, save }: { task: Task; save: Save }) {
  const [v, setV] = useState(task.title);
  useEffect(() => setV(task.title), [task.title]);
  return (
    <label class="field grow">
      <span class="visually-hidden">Title</span>
      <input
        class="title-input"
        value={v}
        onInput={(e) => setV(e.currentTarget.value)}
        onBlur={() => v.trim() && v !== task.title && save({ title: v }, 'the title')}
        onKeyDown={(e) => e.key === 'Enter' && (e.currentTarget as HTMLInputElement).blur()}
      />
    </label>
  );
}

function DescriptionField({ task, save }: { task: Task; save: Save }) {
  const [v, setV] = useState(task.description);
  useEffect(() => setV(task.description), [task.description]);
  return (
    <label class="field">
      <span>Description</span>
      <textarea rows={3} value={v} onInput={(e) => setV(e.currentTarget.value)} onBlur={() => v !== task.description && save({ description: v }, 'the description')} />
    </label>
  );
}

function PriorityField({ task, save }: { task: Task; save: Save }) {
  return (
    <label class="field">
      <span>Priority</span>
      <select value={task.priority} onChange={(e) => save({ priority: e.currentTarget.value as Task['priority'] }, 'the priority')}>
        {PRIORITIES.map((p) => (
          <option value={p.value}>{p.label}</option>
        ))}
      </select>
    </label>
  );
}

function DueField({ task, save, tz }: { task: Task; save: Save; tz: string }) {
  const [words, setWords] = useState('');
  const due = task.due_at ? new Date(task.due_at) : null;
  const dateVal = due ? dayKey(due, tz) : '';
  const timeVal = due && !task.all_day ? hhmm(due, tz) : '';
  const label = task.due_at ? relativeDue(task.due_at, task.all_day, new Date(), tz) : null;
  const setPicked = (date: string, time: string) => {
    if (!date) return save({ due_at: null }, 'the due date');
    if (!time) return save({ due: date }, 'the due date');
    const [h, m] = time.split(':').map(Number);
    return save({ due_at: zonedToInstant(date, h!, m!, tz).toISOString(), all_day: false }, 'the due date');
  };
  return (
    <fieldset class="field">
      <legend>Due {label && <span class={label.overdue && task.status === 'open' ? 'overdue' : 'muted'}>· {label.text}</span>}</legend>
      <div class="row wrap">
        <label class="inline">
          <span class="visually-hidden">Due date</span>
          <input type="date" value={dateVal} onChange={(e) => setPicked(e.currentTarget.value, timeVal)} />
        </label>
        <label class="inline">
          <span class="visually-hidden">Due time</span>
          <input type="time" value={timeVal} onChange={(e) => setPicked(dateVal || dayKey(new Date(), tz), e.currentTarget.value)} />
        </label>
        {task.due_at && (
          <button type="button" class="btn btn-small" onClick={() => save({ due_at: null }, 'the due date')}>Clear</button>
        )}
      </div>
      <form
        class="row"
        onSubmit={async (e) => {
          e.preventDefault();
          if (words.trim() && (await save({ due: words }, 'the due date'))) setWords('');
        }}
      >
        <label class="inline grow">
          <span class="visually-hidden">Due in words</span>
          <input value={words} placeholder="or in words: friday 5pm" onInput={(e) => setWords(e.currentTarget.value)} />
        </label>
        <button class="btn btn-small" type="submit">Set</button>
      </form>
    </fieldset>
  );
}

function TagsField({ task, save }: { task: Task; save: Save }) {
  const all = useStore(tagStore);
  const [v, setV] = useState('');
  const add = async () => {
    const t = v.trim().replace(/^#/, '').toLowerCase();
    if (!t || task.tags.includes(t)) return setV('');
    if (await save({ tags: [...task.tags, t] }, 'the tags')) setV('');
  };
  return (
    <fieldset class="field">
      <legend>Tags</legend>
      <ul class="chips" aria-label="Tags of this task">
        {task.tags.map((t) => (
          <li class="chip chip-tag">
            #{t}
            <button type="button" class="chip-x" aria-label={`Remove tag ${t}`} onClick={() => save({ tags: task.tags.filter((x) => x !== t) }, 'the tags')}>
              ×
            </button>
          </li>
        ))}
      </ul>
      <form class="row" onSubmit={(e) => { e.preventDefault(); add(); }}>
        <label class="inline grow">
          <span class="visually-hidden">Add a tag</span>
          <input list="tag-options" value={v} placeholder="Add a tag" onInput={(e) => setV(e.currentTarget.value)} />
        </label>
        <datalist id="tag-options">
          {all.filter((t) => !task.tags.includes(t.name)).map((t) => (
            <option value={t.name}>{`${t.name} (${t.count})`}</option>
          ))}
        </datalist>
        <button class="btn btn-small" type="submit">Add</button>
      </form>
    </fieldset>
  );
}

function RemindersField({ task, save, tz }: { task: Task; save: Save; tz: string }) {
  const [before, setBefore] = useState('30');
  const [at, setAt] = useState('');
  const keep = task.reminders.map((r) => (r.before_due_minutes != null ? { id: r.id, before_due_minutes: r.before_due_minutes } : { id: r.id, at: r.at }));
  const describe = (r: Task['reminders'][number]) => {
    const when = formatInstant(r.at, tz);
    if (r.before_due_minutes == null) return `At ${when}`;
    const m = r.before_due_minutes;
    const rel = m === 0 ? 'At the due time' : m % 1440 === 0 ? `${m / 1440} day${m > 1440 ? 's' : ''} before` : m % 60 === 0 ? `${m / 60} h before` : `${m} min before`;
    return `${rel} (${when})`;
  };
  return (
    <fieldset class="field">
      <legend>Reminders</legend>
      {task.reminders.length === 0 && <p class="muted">None.</p>}
      <ul class="plain">
        {task.reminders.map((r) => (
          <li class="row">
            <span class="grow">{describe(r)}</span>
            <button type="button" class="btn btn-small" aria-label={`Remove reminder: ${describe(r)}`} onClick={() => save({ reminders: keep.filter((k) => k.id !== r.id) }, 'the reminders')}>
              Remove
            </button>
          </li>
        ))}
      </ul>
      <div class="row wrap">
        <label class="inline">
          <span class="visually-hidden">Relative reminder</span>
          <select value={before} onChange={(e) => setBefore(e.currentTarget.value)} disabled={!task.due_at}>
            {BEFORE.map(([m, l]) => (
              <option value={String(m)}>{l}</option>
            ))}
          </select>
        </label>
        <button type="button" class="btn btn-small" disabled={!task.due_at} onClick={() => save({ reminders: [...keep, { before_due_minutes: Number(before) }] }, 'the reminders')}>
          Add relative
        </button>
      </div>
      <form
        class="row"
        onSubmit={async (e) => {
          e.preventDefault();
          if (at.trim() && (await save({ reminders: [...keep, { at }] }, 'the reminders'))) setAt('');
        }}
      >
        <label class="inline grow">
          <span class="visually-hidden">Reminder at</span>
          <input value={at} placeholder="at: tomorrow 9am, in 2 hours" onInput={(e) => setAt(e.currentTarget.value)} />
        </label>
        <button class="btn btn-small" type="submit">Add at</button>
      </form>
    </fieldset>
  );
}

function RecurrenceField({ task, save, tz }: { task: Task; save: Save; tz: string }) {
  const [text, setText] = useState(wordsOf(task.recurrence?.text));
  const [fromCompletion, setFromCompletion] = useState(task.recurrence?.from_completion ?? false);
  const [preview, setPreview] = useState<{ next: string[]; text: string; allDay: boolean } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const seq = useRef(0);
  useEffect(() => {
    setText(wordsOf(task.recurrence?.text));
    setFromCompletion(task.recurrence?.from_completion ?? false);
  }, [task.recurrence?.text, task.recurrence?.from_completion]);
  useEffect(() => {
    const words = text.trim();
    if (!words || (words === wordsOf(task.recurrence?.text) && fromCompletion === (task.recurrence?.from_completion ?? false))) {
      setPreview(null);
      setError(null);
      return;
    }
    const n = ++seq.current;
    const words2 = fromCompletion ? words.replace(/^every\b(?!!)/i, 'every!') : words;
    const t = setTimeout(() => {
      parseText(`"${task.title.replace(/"/g, '')}" ${words2}`).then(
        (r) => {
          if (n !== seq.current) return;
          const rec = r.preview?.recurrence;
          if (r.error) setError(r.error.message);
          else if (!rec) setError('Not understood as a repetition yet; try “every other monday”.');
          else setError(null);
          setPreview(rec ? { next: rec.next, text: rec.text, allDay: r.preview?.all_day ?? true } : null);
        },
        () => n === seq.current && setPreview(null),
      );
    }, 150);
    return () => clearTimeout(t);
  }, [text, fromCompletion]);
  const submit = async (e: Event) => {
    e.preventDefault();
    const words = text.trim().replace(/^every!/i, 'every');
    if (!words) return;
    await save({ recurrence: { text: words, from_completion: fromCompletion || /^every!/i.test(text.trim()) } }, 'the repetition');
  };
  return (
    <fieldset class="field">
      <legend>Repeat</legend>
      {task.recurrence && (
        <p class="muted">
          Repeats {task.recurrence.text}
          {task.recurrence.from_completion && !/completion/.test(task.recurrence.text) && ', counted from completion'}. Next: {nextList(task.recurrence.next, task.all_day, tz)}
        </p>
      )}
      <form class="stack" onSubmit={submit}>
        <div class="row wrap">
          <label class="inline grow">
            <span class="visually-hidden">Repeat in words</span>
            <input value={text} placeholder="every other monday 9am" onInput={(e) => setText(e.currentTarget.value)} aria-describedby="rec-preview" />
          </label>
          <label class="inline">
            <span class="visually-hidden">Repeat presets</span>
            <select value="" onChange={(e) => e.currentTarget.value && setText(e.currentTarget.value)}>
              <option value="">Presets…</option>
              {PRESETS.map((p) => (
                <option value={p}>{p}</option>
              ))}
            </select>
          </label>
        </div>
        <label class="check-label">
          <input type="checkbox" checked={fromCompletion} onChange={(e) => setFromCompletion(e.currentTarget.checked)} />
          Count from completion (every!)
        </label>
        <div id="rec-preview" aria-live="polite">
          {preview && <p class="preview">Preview: {preview.text}. Next: {nextList(preview.next, preview.allDay, tz)}</p>}
          {error && <p class="error">{error}</p>}
        </div>
        <div class="row-end">
          {task.recurrence && (
            <button type="button" class="btn btn-small" onClick={() => save({ recurrence: null }, 'the repetition')}>Stop repeating</button>
          )}
          <button type="submit" class="btn btn-small btn-primary">Save repetition</button>
        </div>
      </form>
    </fieldset>
  );
}

function nextFire(w: Workflow, tz: string): string | null {
  if (w.next_fire_at) return formatInstant(w.next_fire_at, tz);
  const input = w.input as Record<string, unknown> | null | undefined;
  const cs = w.custom_status as Record<string, unknown> | string | null | undefined;
  const at = (cs && typeof cs === 'object' && (cs.next_fire_at ?? cs.at ?? cs.fires_at)) ?? (input && (input.at ?? input.fire_at));
  return typeof at === 'string' && !Number.isNaN(Date.parse(at)) ? formatInstant(at, tz) : null;
}
function isPaused(w: Workflow | undefined): boolean {
  const input = (w?.input ?? {}) as { paused?: unknown };
  return !!w && (w.status === 'suspended' || input.paused === true || /paused/i.test(statusText(w, 'UTC')));
}

function TaskWorkflows({ task, tz, setTaskLocal }: { task: Task; tz: string; setTaskLocal: (t: Task) => void }) {
  const [items, setItems] = useState<Workflow[] | null>(null);

  const load = () =>
    ok(api.GET('/api/v1/workflows', { params: { query: { task_id: task.id, limit: 50 } } })).then((r) => setItems(r.items), () => setItems([]));
  useEffect(() => {
    load();
  }, [task.id, task.version]);
  const recurring = items?.find((w) => w.kind === 'recurring');
  const seriesPaused = isPaused(recurring);
  const control = async (action: 'pause' | 'resume' | 'skip') => {
    if (!task.series_id) return;
    try {
      // The answer comes once the series' workflow has acted (input.paused says its state).
      const w = await ok(api.POST('/api/v1/series/{series_id}/{action}', { params: { path: { series_id: task.series_id, action } } }));
      setItems((l) => (l ?? []).map((x) => (x.id === w.id ? w : x)));
      showToast(action === 'pause' ? 'Series paused' : action === 'resume' ? 'Series resumed' : 'Next occurrence skipped');
      if (action === 'skip') getTask(task.id).then(setTaskLocal, () => undefined);
    } catch (e) {
      showError(e);
    }
  };
  return (
    <section class="field" aria-labelledby="wf-h">
      <h3 id="wf-h">Workflows</h3>
      {task.series_id && (
        <div class="row wrap" role="group" aria-label="Series">
          <span class="grow muted">Series {seriesPaused ? 'paused' : 'active'}</span>
          {seriesPaused ? (
            <button type="button" class="btn btn-small" onClick={() => control('resume')}>Resume series</button>
          ) : (
            <button type="button" class="btn btn-small" onClick={() => control('pause')}>Pause series</button>
          )}
          <button type="button" class="btn btn-small" onClick={() => control('skip')}>Skip next</button>
        </div>
      )}
      {items === null ? (
        <p class="muted">Loading…</p>
      ) : items.length === 0 ? (
        <p class="muted">No workflows.</p>
      ) : (
        <ul class="plain">
          {items.map((w) => (
            <li>
              <Link href={`/workflows/${encodeURIComponent(w.id)}`}>{w.kind}</Link> · <span class={`wf-status wf-${w.status}`}>{w.status}</span>
              {nextFire(w, tz) && <> · fires {nextFire(w, tz)}</>}
              {statusText(w, tz) && <span class="muted"> · {statusText(w, tz)}</span>}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function describeChange(r: AuditRecord): string {
  const c = r.changes as Record<string, unknown> | null | undefined;
  const action = r.action.replace(/^task\./, '');
  const fields = c ? Object.keys(c) : [];
  return fields.length && action === 'updated' ? `changed ${fields.join(', ')}` : action;
}

function Activity({ task, tz }: { task: Task; tz: string }) {
  const [items, setItems] = useState<AuditRecord[] | null>(null);
  useEffect(() => {
    const t = setTimeout(() => {
      ok(api.GET('/api/v1/audit', { params: { query: { task_id: task.id } } })).then((r) => setItems(r.items), () => setItems([]));
    }, 300);
    return () => clearTimeout(t);
  }, [task.id, task.version]);
  return (
    <section class="field" aria-labelledby="act-h">
      <h3 id="act-h">Activity</h3>
      {items === null ? (
        <p class="muted">Loading…</p>
      ) : items.length === 0 ? (
        <p class="muted">Nothing recorded yet.</p>
      ) : (
        <ol class="timeline">
          {items.map((r) => (
            <li>
              <time dateTime={r.at}>{formatInstant(r.at, tz)}</time> <strong>{r.actor}</strong> {describeChange(r)}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

export function _dueParts(iso: string, tz: string) {
  return zonedParts(new Date(iso), tz);
}
