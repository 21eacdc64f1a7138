// The list views: Inbox, Today, Upcoming, Completed, a tag, a search, a filter
// (ad hoc at /filter?query=, saved at /filters/:id).
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, ApiError, ok } from '../api/client';
import { userTz } from '../api/session';
import { FilterField, type FieldError } from '../search/FilterField';
import { errorPosition, errorText } from '../search/filterSyntax';
import { navigate, useLocation, withQuery } from '../ui/router';
import { useStore } from '../ui/store';
import { showError, showToast } from '../ui/toast';
import { viewQuery, type ViewKind } from './data';
import { deleteFilter, filters, saveFilter, updateFilter } from './sidebar';
import { TaskList } from './TaskList';

const TITLES: Record<ViewKind, string> = { inbox: 'Inbox', today: 'Today', upcoming: 'Upcoming', completed: 'Completed' };
const EMPTY: Record<ViewKind, string> = {
  inbox: 'No open tasks. Press q to add one.',
  today: 'Nothing due today. Enjoy.',
  upcoming: 'Nothing in the next 14 days.',
  completed: 'No completed tasks yet.',
};

export function ViewPage({ view }: { view: ViewKind }) {
  const tz = userTz();
  // Recomputed per mount: a view opened tomorrow starts from tomorrow.
  const query = useMemo(() => viewQuery(view, new Date(), tz), [view, tz]);
  return (
    <>
      <h1 class="page-title">{TITLES[view]}</h1>
      <TaskList query={query} group={view === 'upcoming' ? 'day' : view === 'today' ? 'today' : undefined} empty={EMPTY[view]} label={`${TITLES[view]} tasks`} />
    </>
  );
}

export function TagPage({ name }: { name: string }) {
  return (
    <>
      <h1 class="page-title">#{name}</h1>
      <TaskList query={{ tag: name, status: 'open', sort: 'due,-priority' }} empty={`No open tasks tagged #${name}.`} label={`Tasks tagged ${name}`} />
    </>
  );
}

export function SearchPage() {
  const loc = useLocation();
  const q = loc.query.get('q') ?? '';
  return (
    <>
      <h1 class="page-title">Search{q && <>: “{q}”</>}</h1>
      {q ? (
        <TaskList query={{ q, status: 'all' }} empty="Nothing matches." label="Search results" />
      ) : (
        <p class="empty">Type in the search field (press /).</p>
      )}
    </>
  );
}

/** Checks a filter with the server (the same parser as the lists); its problem as a field error, or null. */
export async function checkFilter(query: string): Promise<FieldError | null> {
  const r = await ok(api.POST('/api/v1/filters/check', { body: { query } }));
  if (r.ok || !r.error) return null;
  const details = r.error as unknown as Record<string, unknown>;
  return { message: errorText(details, r.error.message), position: errorPosition(details, query) };
}

function FilterView(props: { initial: string; saved?: { id: string; name: string }; onApplied?: (q: string) => void }) {
  const [text, setText] = useState(props.initial);
  const [applied, setApplied] = useState<string | null>(null);
  const [error, setError] = useState<FieldError | null>(null);
  const [name, setName] = useState('');
  useEffect(() => {
    setText(props.initial);
    if (!props.initial) {
      setApplied(null);
      return;
    }
    checkFilter(props.initial).then((err) => {
      setError(err);
      setApplied(err ? null : props.initial);
    }, showError);
  }, [props.initial]);
  const apply = async () => {
    const err = await checkFilter(text).catch((e) => {
      showError(e);
      return null;
    });
    setError(err);
    if (!err) {
      setApplied(text);
      props.onApplied?.(text);
    }
  };
  const save = async (e: Event) => {
    e.preventDefault();
    try {
      const f = await saveFilter(name.trim(), applied ?? text);
      showToast(`Saved filter “${f.name}”`);
      setName('');
      navigate(`/filters/${encodeURIComponent(f.id)}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 422 && err.details.position !== undefined) {
        setError({ message: errorText(err.details, err.message), position: errorPosition(err.details, text) });
      } else showError(err);
    }
  };
  return (
    <>
      <FilterField value={text} onInput={(v) => { setText(v); setError(null); }} onSubmit={apply} error={error} />
      {applied !== null && (
        <>
          {!props.saved ? (
            <form class="save-filter row" onSubmit={save}>
              <label class="field inline">
                <span>Save as</span>
                <input required value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="Name of the filter" />
              </label>
              <button class="btn" type="submit">Save filter</button>
            </form>
          ) : (
            applied !== props.initial && (
              <button
                class="btn"
                type="button"
                onClick={() => updateFilter(props.saved!.id, { query: applied }).then(() => showToast('Filter updated'), showError)}
              >
                Update “{props.saved.name}”
              </button>
            )
          )}
          <TaskList query={{ filter: applied, sort: 'due,-priority' }} empty="No task matches this filter." label="Filtered tasks" />
        </>
      )}
    </>
  );
}

export function FilterPage() {
  const loc = useLocation();
  const query = loc.query.get('query') ?? '';
  return (
    <>
      <h1 class="page-title">Filter</h1>
      <FilterView initial={query} onApplied={(q) => navigate(withQuery({ query: q, task: null }), { replace: true })} />
    </>
  );
}

export function SavedFilterPage({ id }: { id: string }) {
  const all = useStore(filters);
  const f = all.find((x) => x.id === id);
  if (!f) return <><h1 class="page-title">Filter</h1><p class="empty">Loading the filter…</p></>;
  return (
    <>
      <div class="title-row">
        <h1 class="page-title">{f.name}</h1>
        <button
          type="button"
          class="btn btn-small btn-danger"
          onClick={() => {
            if (confirm(`Delete the filter “${f.name}”? (Its tasks stay.)`)) deleteFilter(f.id).then(() => navigate('/inbox'), showError);
          }}
        >
          Delete filter
        </button>
      </div>
      <FilterSettings id={f.id} />
      <FilterView initial={f.query} saved={f} />
    </>
  );
}

/** Rename a saved filter, give it a colour, move it up or down the sidebar. */
function FilterSettings({ id }: { id: string }) {
  const all = useStore(filters);
  const i = all.findIndex((x) => x.id === id);
  const f = all[i]!;
  const [name, setName] = useState(f.name);
  const [color, setColor] = useState(f.color ?? '#246fe0');
  useEffect(() => {
    setName(f.name);
    setColor(f.color ?? '#246fe0');
  }, [f.id, f.name, f.color]);
  const swap = async (j: number) => {
    const other = all[j];
    if (!other) return;
    try {
      // Positions may tie; give the two distinct ones in their new order.
      const a = Math.min(f.position, other.position);
      const b = Math.max(f.position, other.position, a + 1);
      await updateFilter(f.id, { position: j < i ? a : b });
      await updateFilter(other.id, { position: j < i ? b : a });
    } catch (e) {
      showError(e);
    }
  };
  return (
    <details class="filter-settings">
      <summary>Name, colour and order</summary>
      <form
        class="row wrap"
        onSubmit={(e) => {
          e.preventDefault();
          updateFilter(f.id, { name: name.trim(), color }).then(() => showToast('Filter saved'), showError);
        }}
      >
        <label class="field inline">
          <span>Name</span>
          <input required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label class="field inline">
          <span>Colour</span>
          <input type="color" value={color} onInput={(e) => setColor(e.currentTarget.value)} />
        </label>
        <button class="btn btn-small" type="submit">Save</button>
        <button class="btn btn-small" type="button" disabled={i <= 0} onClick={() => swap(i - 1)}>Move up</button>
        <button class="btn btn-small" type="button" disabled={i >= all.length - 1} onClick={() => swap(i + 1)}>Move down</button>
      </form>
    </details>
  );
}
