// The virtualised task list: pages in as it scrolls, keyboard cursor (j/k),
// complete with Undo, multi-select with bulk complete and bulk delete.
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { Confirmation, Task } from '../api/client';
import { userTz } from '../api/session';
import { dayKey } from '../ui/dates';
import { Dialog } from '../ui/dialog';
import { navigate, withQuery } from '../ui/router';
import { store } from '../ui/store';
import { showError, showToast } from '../ui/toast';
import { offsets, scrollToReveal, visibleRange } from '../ui/virtual';
import { ConfirmationCard } from '../chat/ConfirmationCard';
import {
  bulkDelete,
  completeTask,
  emitTask,
  fitsStatus,
  listTasks,
  onTaskEvent,
  patchTask,
  priorityForKey,
  reopenTask,
  type ListQuery,
} from './data';
import { HEADER_HEIGHT, ROW_HEIGHT, TaskRow } from './TaskRow';
import { groupByDay, groupToday, type Row } from './grouping';

/** What the keyboard shortcuts act on: the list on screen. */
export interface ListControls {
  move(delta: number): void;
  complete(): void;
  due(): void;
  priority(key: string): void;
  select(): void;
  open(): void;
}
export const activeList = store<ListControls | null>(null);

const PAGE = 100;

type ListProps = { query: ListQuery; group?: 'day' | 'today'; empty: string; label: string };

/** A fresh list per query: nothing of another view's list (rows, cursor, selection) carries over. */
export function TaskList(props: ListProps) {
  return <TaskListInner key={JSON.stringify(props.query)} {...props} />;
}

function TaskListInner(props: ListProps) {
  const tz = userTz();
  const queryKey = JSON.stringify(props.query);
  const [items, setItems] = useState<Task[]>([]);
  const [total, setTotal] = useState(0);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [current, setCurrent] = useState(-1);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [selecting, setSelecting] = useState(false);
  const [pending, setPending] = useState<Set<string>>(new Set());
  const [dueFor, setDueFor] = useState<Task | null>(null);
  const [confirm, setConfirm] = useState<Confirmation | null>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  const scrollRef = useRef<HTMLDivElement>(null);
  const focusWanted = useRef(false);
  const loadingMore = useRef(false);
  const generation = useRef(0);
  const now = useMemo(() => new Date(), [items]);

  const load = useCallback(async () => {
    const gen = ++generation.current;
    setLoading(true);
    try {
      const page = await listTasks({ ...props.query, limit: PAGE });
      if (gen !== generation.current) return;
      setItems(page.items);
      setTotal(page.total);
      setCursor(page.next_cursor ?? null);
      setError(null);
    } catch (e) {
      if (gen !== generation.current) return;
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      if (gen === generation.current) setLoading(false);
    }
  }, [queryKey]);

  useEffect(() => {
    setItems([]);
    setCurrent(-1);
    setSelected(new Set());
    if (scrollRef.current) scrollRef.current.scrollTop = 0;
    load();
  }, [queryKey]);

  const loadMore = useCallback(async () => {
    if (!cursor || loadingMore.current) return;
    loadingMore.current = true;
    const gen = generation.current;
    try {
      const page = await listTasks({ ...props.query, limit: PAGE }, cursor);
      if (gen !== generation.current) return;
      setItems((old) => {
        const seen = new Set(old.map((t) => t.id));
        return [...old, ...page.items.filter((t) => !seen.has(t.id))];
      });
      setCursor(page.next_cursor ?? null);
      setTotal(page.total);
    } catch (e) {
      showError(e);
    } finally {
      loadingMore.current = false;
    }
  }, [cursor, queryKey]);

  useEffect(
    () =>
      onTaskEvent((e) => {
        if (e.type === 'refresh') load();
        else if (e.type === 'remove') {
          setItems((l) => l.filter((t) => t.id !== e.id));
          setTotal((n) => Math.max(0, n - 1));
        } else
          setItems((l) => {
            const i = l.findIndex((t) => t.id === e.task.id);
            if (i < 0) return l;
            if (!fitsStatus(e.task, props.query)) {
              setTotal((n) => Math.max(0, n - 1));
              return l.filter((t) => t.id !== e.task.id);
            }
            const copy = l.slice();
            copy[i] = e.task;
            return copy;
          });
      }),
    [load, queryKey],
  );

  const rows: Row[] = useMemo(() => {
    if (props.group === 'day') {
      const today = dayKey(now, tz);
      return groupByDay(items, today, 14, tz, today);
    }
    if (props.group === 'today' && items.length > 0) return groupToday(items, tz, dayKey(now, tz));
    return items.map((task, index) => ({ kind: 'task', task, index }));
  }, [items, props.group, tz]);
  const tasksInOrder = useMemo(() => rows.flatMap((r) => (r.kind === 'task' ? [r.task] : [])), [rows]);
  const offs = useMemo(() => offsets(rows.map((r) => (r.kind === 'task' ? ROW_HEIGHT : HEADER_HEIGHT))), [rows]);
  const rowOfTask = useMemo(() => {
    const m: number[] = [];
    rows.forEach((r, i) => {
      if (r.kind === 'task') m[r.index] = i;
    });
    return m;
  }, [rows]);

  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setViewport(el.clientHeight || 600));
    ro.observe(el);
    setViewport(el.clientHeight || 600);
    return () => ro.disconnect();
  }, []);

  // For the benchmark (and DevTools): when a view's first page is on screen.
  const marked = useRef(false);
  useEffect(() => {
    if (marked.current || loading) return;
    marked.current = true;
    requestAnimationFrame(() => performance.mark('errand:list-ready', { detail: props.label }));
  }, [loading]);

  const range = visibleRange(offs, scrollTop, viewport, 8);
  useEffect(() => {
    if (cursor && range.end >= rows.length - 30) loadMore();
  }, [range.end, rows.length, cursor]);

  // Keep the keyboard cursor's row on screen and focused.
  useEffect(() => {
    if (current < 0 || !focusWanted.current) return;
    const task = tasksInOrder[current];
    if (!task) return;
    const el = scrollRef.current;
    const r = rowOfTask[current] ?? 0;
    if (el) {
      const top = scrollToReveal(offs, r, el.scrollTop, el.clientHeight);
      if (top !== el.scrollTop) {
        el.scrollTop = top;
        setScrollTop(top);
      }
    }
    requestAnimationFrame(() => {
      const a = el?.querySelector<HTMLAnchorElement>(`[data-task-id="${CSS.escape(task.id)}"] .task-title`);
      if (a && document.activeElement !== a) a.focus({ preventScroll: true });
      focusWanted.current = false;
    });
  }, [current, tasksInOrder]);

  const toggle = async (t: Task) => {
    if (t.status === 'done') {
      try {
        await reopenTask(t.id);
      } catch (e) {
        showError(e);
      }
      return;
    }
    setPending((p) => new Set(p).add(t.id));
    try {
      await completeTask(t.id);
      showToast(`Completed “${t.title}”`, {
        timeoutMs: 5000,
        actions: [
          {
            label: 'Undo',
            run: () => {
              reopenTask(t.id).catch(showError);
            },
          },
        ],
      });
    } catch (e) {
      showError(e);
    } finally {
      setPending((p) => {
        const n = new Set(p);
        n.delete(t.id);
        return n;
      });
    }
  };

  const toggleSelect = (t: Task) =>
    setSelected((s) => {
      const n = new Set(s);
      if (n.has(t.id)) n.delete(t.id);
      else n.add(t.id);
      return n;
    });

  const open = (t: Task) => navigate(withQuery({ task: t.id }));

  const controls: ListControls = {
    move(delta) {
      if (tasksInOrder.length === 0) return;
      focusWanted.current = true;
      setCurrent((c) => Math.max(0, Math.min(tasksInOrder.length - 1, c < 0 ? 0 : c + delta)));
      if (current >= 0 && current + delta === current) setCurrent(current);
    },
    complete() {
      const t = tasksInOrder[current];
      if (t) {
        toggle(t);
        focusWanted.current = true;
      }
    },
    due() {
      const t = tasksInOrder[current];
      if (t) setDueFor(t);
    },
    priority(key) {
      const t = tasksInOrder[current];
      const p = priorityForKey(key);
      if (t && p) patchTask(t.id, { priority: p, version: t.version }).catch(showError);
    },
    select() {
      const t = tasksInOrder[current];
      if (t) {
        setSelecting(true);
        toggleSelect(t);
      }
    },
    open() {
      const t = tasksInOrder[current];
      if (t) open(t);
    },
  };
  const controlsRef = useRef(controls);
  controlsRef.current = controls;
  useEffect(() => {
    const proxy: ListControls = {
      move: (d) => controlsRef.current.move(d),
      complete: () => controlsRef.current.complete(),
      due: () => controlsRef.current.due(),
      priority: (k) => controlsRef.current.priority(k),
      select: () => controlsRef.current.select(),
      open: () => controlsRef.current.open(),
    };
    activeList.set(proxy);
    return () => {
      if (activeList.get() === proxy) activeList.set(null);
    };
  }, []);

  const bulkComplete = async () => {
    const ids = [...selected];
    try {
      for (const id of ids) await completeTask(id);
      showToast(`Completed ${ids.length} task${ids.length > 1 ? 's' : ''}`, {
        actions: [{ label: 'Undo', run: () => Promise.all(ids.map((id) => reopenTask(id))).catch(showError) }],
      });
      setSelected(new Set());
    } catch (e) {
      showError(e);
    }
  };
  const bulkDel = async () => {
    try {
      setConfirm(await bulkDelete([...selected]));
    } catch (e) {
      showError(e);
    }
  };

  const selCount = selected.size;
  const visible = rows.slice(range.start, range.end);
  return (
    <section class="list-wrap" aria-label={props.label}>
      <div class="list-tools">
        <span class="count" aria-live="polite">
          {loading && items.length === 0 ? 'Loading…' : `${total} task${total === 1 ? '' : 's'}`}
        </span>
        {selCount > 0 ? (
          <div class="bulk" role="group" aria-label="Selected tasks">
            <span>{selCount} selected</span>
            <button type="button" class="btn btn-small" onClick={bulkComplete}>Complete</button>
            <button type="button" class="btn btn-small btn-danger" onClick={bulkDel}>Delete…</button>
            <button type="button" class="btn btn-small" onClick={() => { setSelected(new Set()); setSelecting(false); }}>Clear</button>
          </div>
        ) : (
          items.length > 0 && (
            <button type="button" class="btn btn-small" aria-pressed={selecting} onClick={() => setSelecting(!selecting)}>
              Select
            </button>
          )
        )}
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      <div
        class="list-scroll"
        ref={scrollRef}
        onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
      >
        {!loading && items.length === 0 && !error && props.group !== 'day' ? (
          <p class="empty">{props.empty}</p>
        ) : (
          <div class="list-inner" role="list" aria-label={props.label} style={{ height: `${offs[offs.length - 1]}px` }}>
            {visible.map((r) =>
              r.kind === 'header' ? (
                <div key={`h-${r.key}`} class="day-header" role="listitem" style={{ transform: `translateY(${offs[rows.indexOf(r)]}px)` }}>
                  <h3>{r.label}</h3>
                  <span class="muted">{r.count === 0 ? 'Nothing planned' : `${r.count}`}</span>
                </div>
              ) : (
                <TaskRow
                  key={r.task.id}
                  task={r.task}
                  top={offs[rowOfTask[r.index] ?? 0] ?? 0}
                  pos={r.index + 1}
                  setSize={Math.max(total, tasksInOrder.length)}
                  now={now}
                  tz={tz}
                  current={r.index === current}
                  selected={selected.has(r.task.id)}
                  selecting={selecting || selCount > 0}
                  pending={pending.has(r.task.id)}
                  onToggle={toggle}
                  onSelect={toggleSelect}
                  onOpen={open}
                  onFocus={() => setCurrent(r.index)}
                />
              ),
            )}
          </div>
        )}
      </div>
      {dueFor && <DueDialog task={dueFor} onClose={() => setDueFor(null)} />}
      {confirm && (
        <Dialog title="Confirm deletion" onClose={() => setConfirm(null)}>
          <ConfirmationCard
            confirmation={confirm}
            onDecided={(c) => {
              if (c.status === 'approved') {
                for (const id of selected) emitTask({ type: 'remove', id });
                setSelected(new Set());
                setConfirm(null);
              } else if (c.status !== 'pending') setConfirm(null);
            }}
          />
        </Dialog>
      )}
    </section>
  );
}

function DueDialog({ task, onClose }: { task: Task; onClose: () => void }) {
  const [words, setWords] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      await patchTask(task.id, { due: words.trim() === '' ? null : words, version: task.version });
      onClose();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  return (
    <Dialog title={`Due date of “${task.title}”`} onClose={onClose}>
      <form onSubmit={submit} class="stack">
        <label class="field">
          <span>Due (words such as “tomorrow 5pm”; empty clears it)</span>
          <input autoFocus value={words} onInput={(e) => setWords(e.currentTarget.value)} />
        </label>
        {error && <p class="error" role="alert">{error}</p>}
        <div class="row-end">
          <button type="button" class="btn" onClick={onClose}>Cancel</button>
          <button type="submit" class="btn btn-primary">Set due date</button>
        </div>
      </form>
    </Dialog>
  );
}
