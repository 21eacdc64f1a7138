// The header's search field: results as you type (a combobox with a listbox);
// Enter opens the highlighted result, or the full results page.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Task } from '../api/client';
import { listTasks } from '../tasks/data';
import { IconSearch } from '../ui/icons';
import { navigate, withQuery, useLocation } from '../ui/router';
import { store } from '../ui/store';

export const searchFocus = store(0);

export function SearchBox() {
  const loc = useLocation();
  const [q, setQ] = useState(loc.path === '/search' ? loc.query.get('q') ?? '' : '');
  const [results, setResults] = useState<Task[]>([]);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const input = useRef<HTMLInputElement>(null);
  const seq = useRef(0);
  useEffect(() => searchFocus.subscribe(() => input.current?.focus()), []);
  useEffect(() => {
    const text = q.trim();
    if (!text) {
      setResults([]);
      return;
    }
    const n = ++seq.current;
    const t = setTimeout(() => {
      listTasks({ q: text, status: 'all', limit: 8 }).then(
        (r) => {
          if (n === seq.current) {
            setResults(r.items);
            setActive(-1);
          }
        },
        () => n === seq.current && setResults([]),
      );
    }, 120);
    return () => clearTimeout(t);
  }, [q]);
  const go = (t?: Task) => {
    setOpen(false);
    if (t) navigate(withQuery({ task: t.id }));
    else if (q.trim()) navigate(`/search?q=${encodeURIComponent(q.trim())}`);
  };
  const expanded = open && q.trim() !== '' && results.length > 0;
  return (
    <form
      class="search"
      role="search"
      onSubmit={(e) => {
        e.preventDefault();
        go(active >= 0 ? results[active] : undefined);
      }}
    >
      <label for="search-input" class="visually-hidden">Search tasks</label>
      <span class="search-icon"><IconSearch /></span>
      <input
        id="search-input"
        ref={input}
        type="search"
        role="combobox"
        list={undefined}
        aria-expanded={expanded}
        aria-controls="search-results"
        aria-autocomplete="list"
        aria-activedescendant={expanded && active >= 0 ? `sr-${results[active]?.id}` : undefined}
        placeholder="Search (/)"
        autocomplete="off"
        value={q}
        onInput={(e) => {
          setQ(e.currentTarget.value);
          setOpen(true);
        }}
        onFocus={() => setOpen(true)}
        onBlur={() => setTimeout(() => setOpen(false), 150)}
        onKeyDown={(e) => {
          if (e.key === 'ArrowDown') {
            e.preventDefault();
            setOpen(true);
            setActive((a) => Math.min(results.length - 1, a + 1));
          } else if (e.key === 'ArrowUp') {
            e.preventDefault();
            setActive((a) => Math.max(-1, a - 1));
          } else if (e.key === 'Escape') {
            setOpen(false);
            input.current?.blur();
          }
        }}
      />
      <ul id="search-results" role="listbox" aria-label="Matching tasks" class="search-results" hidden={!expanded}>
        {results.map((t, i) => (
          <li
            id={`sr-${t.id}`}
            role="option"
            aria-selected={i === active}
            class={i === active ? 'active' : ''}
            onMouseDown={(e) => {
              e.preventDefault();
              go(t);
            }}
          >
            <span class={t.status === 'done' ? 'is-done-text' : ''}>{t.title}</span>
            {t.tags.length > 0 && <span class="muted"> {t.tags.map((x) => `#${x}`).join(' ')}</span>}
          </li>
        ))}
      </ul>
    </form>
  );
}
