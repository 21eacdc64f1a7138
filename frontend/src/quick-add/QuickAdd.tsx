// Quick Add (q anywhere): one field; what Errand understands is highlighted in
// place and shown as chips; a chip's × turns that part back into title text.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ParseResult } from '../api/extra';
import { userTz } from '../api/session';
import { createTask } from '../tasks/data';
import { dayKey, dayLabel, hhmm, relativeDue } from '../ui/dates';
import { Dialog } from '../ui/dialog';
import { HighlightedInput } from '../ui/HighlightedInput';
import { store, useStore } from '../ui/store';
import { showToast } from '../ui/toast';
import { navigate, withQuery } from '../ui/router';
import { parseText } from './parse';
import { kindLabel, unparse } from './spans';

export const quickAddOpen = store(false);

function chipText(r: ParseResult, i: number, tz: string): string {
  const s = r.spans[i]!;
  const p = r.preview;
  if (s.kind === 'date' && p?.due_at) return relativeDue(p.due_at, p.all_day, new Date(), tz).text;
  if (s.kind === 'recurrence' && p?.recurrence) return p.recurrence.text;
  if (s.kind === 'tag') return s.text.startsWith('#') ? s.text : `#${s.text}`;
  return s.text;
}

export function QuickAdd() {
  const open = useStore(quickAddOpen);
  if (!open) return null;
  return <QuickAddDialog onClose={() => quickAddOpen.set(false)} />;
}

function QuickAddDialog({ onClose }: { onClose: () => void }) {
  const tz = userTz();
  const [text, setText] = useState('');
  const [result, setResult] = useState<{ text: string; r: ParseResult } | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const inputRef = useRef<HTMLInputElement | null>(null);
  const seq = useRef(0);
  useEffect(() => {
    if (!text.trim()) {
      setResult(null);
      return;
    }
    const n = ++seq.current;
    const t = setTimeout(() => {
      parseText(text).then(
        (r) => n === seq.current && setResult({ text, r }),
        (e) => n === seq.current && setError(e instanceof Error ? e.message : String(e)),
      );
    }, 90);
    return () => clearTimeout(t);
  }, [text]);
  const current = result && result.text === text ? result.r : null;
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!text.trim() || busy) return;
    setBusy(true);
    setError(null);
    try {
      const r = current ?? (await parseText(text));
      if (r.error || !r.task) {
        setError(r.error?.message ?? 'This would not make a task.');
        return;
      }
      const task = await createTask(r.task);
      showToast(`Added “${task.title}”`, { actions: [{ label: 'Open', run: () => navigate(withQuery({ task: task.id })) }] });
      setText('');
      setResult(null);
      inputRef.current?.focus();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  const remove = (i: number) => {
    if (!current) return;
    const s = current.spans[i]!;
    const next = unparse(text, s);
    setText(next);
    requestAnimationFrame(() => inputRef.current?.focus());
  };
  const segs = current
    ? current.spans.map((s) => ({ start: s.start, end: s.end, cls: `hl-${s.kind}` }))
    : result
      ? []
      : [];
  const next = current?.preview?.recurrence?.next ?? [];
  const today = dayKey(new Date(), tz);
  return (
    <Dialog title="Quick add" onClose={onClose} class="quick-add">
      <form onSubmit={submit} class="stack">
        <label for="qa-input" class="field-label">Task</label>
        <HighlightedInput
          id="qa-input"
          inputRef={inputRef}
          value={text}
          onInput={(v) => {
            setText(v);
            setError(null);
          }}
          segments={segs}
          autoFocus
          describedBy="qa-understood qa-help"
          placeholder="Pay rent tomorrow 9am every month #home p1"
        />
        <p id="qa-help" class="hint">
          Dates, #tags, p1–p4, “every other monday”, “remind me 30 min before”. Text in "quotes" is kept as it is.
        </p>
        <div id="qa-understood" aria-live="polite">
          {current && current.spans.length > 0 && (
            <ul class="chips" aria-label="Understood">
              {current.spans.map((s, i) => (
                <li class={`chip chip-${s.kind}`}>
                  <span class="chip-kind">{kindLabel(s.kind)}</span> {chipText(current, i, tz)}
                  <button
                    type="button"
                    class="chip-x"
                    aria-label={`Keep “${s.text}” as title text`}
                    title="Keep as title text"
                    onClick={() => remove(i)}
                  >
                    ×
                  </button>
                </li>
              ))}
            </ul>
          )}
          {current && (
            <p class="hint">
              Title: <strong>{current.title || '—'}</strong>
            </p>
          )}
          {next.length > 0 && (
            <p class="hint">
              Next: {next.map((n) => `${dayLabel(dayKey(new Date(n), tz), today)}${current?.preview?.all_day ? '' : ` ${hhmm(new Date(n), tz)}`}`).join(' · ')}
            </p>
          )}
          {current?.error && <p class="error">{current.error.message}</p>}
        </div>
        {error && <p class="error" role="alert">{error}</p>}
        <div class="row-end">
          <button type="button" class="btn" onClick={onClose}>Cancel</button>
          <button type="submit" class="btn btn-primary" disabled={busy || !text.trim()}>Add task</button>
        </div>
      </form>
    </Dialog>
  );
}
