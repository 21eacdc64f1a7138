// /admin/workflows: every instance by query (?q=), presets, saved views, columns,
// counts, a 24 h histogram, live rows from the ops stream and batch actions.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Confirmation } from '../api/client';
import { userTz } from '../api/session';
import { ConfirmationCard } from '../chat/ConfirmationCard';
import { formatInstant, localiseInstants } from '../ui/dates';
import { Dialog } from '../ui/dialog';
import { Link, navigate, useLocation } from '../ui/router';
import { showError } from '../ui/toast';
import { batch, histogram, isForbidden, listInstances, useInstanceStream, type BatchAction, type Histogram } from './api';
import {
  addView, COLUMN_NAMES, COLUMNS, COLUMNS_KEY, loadColumns, loadViews, PRESETS, removeView, scaleHistogram, toggleColumn,
  upsertListed, VIEWS_KEY, waitingText, type Column, type Instance, type SavedView,
} from './ops';
import { Forbidden, queryError, Status, TableWrap } from './shared';

const adminHref = (q: string) => `/admin/workflows${q ? `?q=${encodeURIComponent(q)}` : ''}`;

function Bars({ h }: { h: Histogram }) {
  const tz = userTz();
  const { bars, max, total } = scaleHistogram(h.buckets);
  const first = bars[0]?.start;
  const busiest = bars.find((b) => b.count === max && max > 0);
  const summary = `${total} created in the last 24 hours${busiest ? `; the busiest hour, from ${formatInstant(busiest.start, tz)}, had ${max}` : ''}.`;
  return (
    <figure class="histo">
      <div class="histo-bars" aria-hidden="true">
        {bars.map((b) => (
          <span class="histo-bar" title={`${formatInstant(b.start, tz)}: ${b.count}`} style={{ height: `${b.pct}%` }} />
        ))}
      </div>
      <div class="histo-axis" aria-hidden="true"><span>24 h ago</span><span>now</span></div>
      <figcaption class="hint">
        {summary}
        {first && <span class="visually-hidden"> Buckets of {Math.round(h.bucket_seconds / 60)} minutes from {formatInstant(first, tz)}.</span>}
      </figcaption>
    </figure>
  );
}

function cell(c: Column, i: Instance, tz: string) {
  const fmt = (s: string) => formatInstant(s, tz);
  switch (c) {
    case 'kind': return i.kind;
    case 'status': return <Status s={i.status} />;
    case 'waiting': return waitingText(i.waiting, fmt) || '—';
    case 'custom_status': return i.custom_status ? localiseInstants(i.custom_status, tz) : '—';
    case 'task': return i.task_id ? <span class="mono">{i.task_id}</span> : '—';
    case 'user': return i.user_id ? <span class="mono">{i.user_id}</span> : '—';
    case 'created': return fmt(i.created_at);
    case 'updated': return fmt(i.updated_at);
  }
}

const BATCH_ACTIONS: BatchAction[] = ['terminate', 'suspend', 'resume', 'purge', 'raise'];

function BatchDialog({ query, onClose }: { query: string; onClose: () => void }) {
  const [action, setAction] = useState<BatchAction>('terminate');
  const [reason, setReason] = useState('');
  const [event, setEvent] = useState('');
  const [busy, setBusy] = useState(false);
  const [dry, setDry] = useState<{ count: number; sample: Instance[] } | null>(null);
  const [conf, setConf] = useState<Confirmation | null>(null);
  const run = async (dryRun: boolean) => {
    setBusy(true);
    try {
      const r = await batch({ query, action, reason: reason || undefined, event: action === 'raise' ? event : undefined, dry_run: dryRun });
      if (dryRun) setDry(r);
      else setConf(r.confirmation ?? null);
    } catch (e) {
      showError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title="Batch action" onClose={onClose}>
      <p class="hint">On every instance matching <code>{query || '(everything)'}</code>.</p>
      <form onSubmit={(e) => { e.preventDefault(); run(true); }}>
        <div class="row wrap">
          <label class="field">
            <span>Action</span>
            <select value={action} onChange={(e) => { setAction(e.currentTarget.value as BatchAction); setDry(null); setConf(null); }}>
              {BATCH_ACTIONS.map((a) => <option value={a}>{a}</option>)}
            </select>
          </label>
          <label class="field grow">
            <span>Reason</span>
            <input value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          </label>
        </div>
        {action === 'raise' && (
          <label class="field">
            <span>Event name</span>
            <input value={event} required onInput={(e) => setEvent(e.currentTarget.value)} />
          </label>
        )}
        <div class="row-end">
          <button type="submit" class="btn" disabled={busy}>Count</button>
          <button type="button" class="btn btn-danger" disabled={busy || conf !== null} onClick={() => run(false)}>Request</button>
        </div>
      </form>
      <div aria-live="polite">
        {dry && (
          <>
            <p><strong>{dry.count}</strong> {dry.count === 1 ? 'instance matches' : 'instances match'} now.</p>
            {dry.sample.length > 0 && (
              <ul class="plain sample">
                {dry.sample.slice(0, 5).map((i) => <li class="mono">{i.id} · {i.status}</li>)}
              </ul>
            )}
          </>
        )}
        {conf && <ConfirmationCard confirmation={conf} />}
      </div>
    </Dialog>
  );
}

export function WorkflowsAdminPage() {
  const loc = useLocation();
  const q = loc.query.get('q') ?? '';
  const tz = userTz();
  const [draft, setDraft] = useState(q);
  const [page, setPage] = useState<{ items: Instance[]; cursor: string | null; total: number; counts: Record<string, number>; unavailable: string[] } | null>(null);
  const [hist, setHist] = useState<Histogram | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const [forbidden, setForbidden] = useState(false);
  const [cols, setCols] = useState<Column[]>(() => loadColumns(localStorage));
  const [views, setViews] = useState<SavedView[]>(() => loadViews(localStorage));
  const [viewName, setViewName] = useState('');
  const [flash, setFlash] = useState<Set<string>>(new Set());
  const [batchOpen, setBatchOpen] = useState(false);
  const timers = useRef(new Map<string, ReturnType<typeof setTimeout>>());

  useEffect(() => setDraft(q), [q]);
  useEffect(() => {
    let live = true;
    setPage(null);
    setErr(null);
    listInstances(q).then(
      (p) => live && setPage({ items: p.items, cursor: p.next_cursor ?? null, total: p.total, counts: p.counts, unavailable: p.unavailable ?? [] }),
      (e: unknown) => {
        if (!live) return;
        if (isForbidden(e)) setForbidden(true);
        else setErr(queryError(e));
      },
    );
    histogram(q).then((h) => live && setHist(h), () => live && setHist(null));
    return () => {
      live = false;
    };
  }, [q]);
  useEffect(() => () => timers.current.forEach(clearTimeout), []);

  useInstanceStream((i) => {
    setPage((p) => {
      if (!p) return p;
      const r = upsertListed(p.items, i);
      if (!r.changed) return p;
      setFlash((f) => new Set(f).add(i.id));
      clearTimeout(timers.current.get(i.id));
      timers.current.set(i.id, setTimeout(() => setFlash((f) => { const n = new Set(f); n.delete(i.id); return n; }), 2500));
      return { ...p, items: r.items };
    });
  }, !forbidden);

  if (forbidden) {
    return (<><h1 class="page-title">Workflows (admin)</h1><Forbidden /></>);
  }
  const more = () => {
    if (!page?.cursor) return;
    listInstances(q, page.cursor).then((p) => setPage((cur) => cur && { ...cur, items: [...cur.items, ...p.items], cursor: p.next_cursor ?? null }), showError);
  };
  const saveViews = (v: SavedView[]) => {
    setViews(v);
    localStorage.setItem(VIEWS_KEY, JSON.stringify(v));
  };
  const setCol = (c: Column, on: boolean) => {
    const n = toggleColumn(cols, c, on);
    setCols(n);
    localStorage.setItem(COLUMNS_KEY, JSON.stringify(n));
  };
  return (
    <>
      <h1 class="page-title">Workflows (admin)</h1>
      <form class="row wrap ops-query" role="search" onSubmit={(e) => { e.preventDefault(); navigate(adminHref(draft.trim())); }}>
        <label class="field grow">
          <span>Query</span>
          <input
            value={draft}
            class="mono-input"
            placeholder="kind:reminder & status:running"
            aria-invalid={err ? 'true' : undefined}
            aria-describedby={err ? 'ops-q-err' : 'ops-q-hint'}
            onInput={(e) => setDraft(e.currentTarget.value)}
          />
        </label>
        <button type="submit" class="btn btn-primary">Run</button>
      </form>
      {err ? (
        <p id="ops-q-err" class="error" role="alert">{err}</p>
      ) : (
        <p id="ops-q-hint" class="hint">For example <code>kind:reminder &amp; waiting:timer &amp; created after: 2026-11-01</code>, <code>stuck</code>, <code>task:&lt;id&gt;</code>, <code>user:&lt;id&gt;</code> or free text.</p>
      )}
      <div class="row wrap" role="group" aria-label="Presets">
        {PRESETS.map(([label, pq]) => (
          <Link href={adminHref(pq)} class="btn btn-small" aria-current={q === pq ? 'page' : undefined}>{label}</Link>
        ))}
      </div>
      <div class="ops-tools">
        <section aria-labelledby="views-h">
          <h2 id="views-h" class="nav-h">Saved views</h2>
          {views.length > 0 && (
            <ul class="plain chips">
              {views.map((v) => (
                <li class="chip chip-task">
                  <Link href={adminHref(v.query)}>{v.name}</Link>
                  <button type="button" class="chip-x" aria-label={`Remove view ${v.name}`} onClick={() => saveViews(removeView(views, v.name))}>×</button>
                </li>
              ))}
            </ul>
          )}
          <form class="row" onSubmit={(e) => { e.preventDefault(); saveViews(addView(views, viewName, q)); setViewName(''); }}>
            <label class="field inline grow">
              <span>View name</span>
              <input value={viewName} class="grow" onInput={(e) => setViewName(e.currentTarget.value)} />
            </label>
            <button type="submit" class="btn btn-small" disabled={!q || !viewName.trim()}>Save this query</button>
          </form>
        </section>
        <fieldset class="field ops-cols">
          <legend>Columns</legend>
          <div class="row wrap">
            {COLUMNS.map((c) => (
              <label class="check-label">
                <input type="checkbox" checked={cols.includes(c)} onChange={(e) => setCol(c, e.currentTarget.checked)} />
                {COLUMN_NAMES[c]}
              </label>
            ))}
          </div>
        </fieldset>
      </div>
      {page && (
        <div class="row wrap ops-counts" aria-label="Matches per status">
          <strong>{page.total} {page.total === 1 ? 'match' : 'matches'}</strong>
          {Object.entries(page.counts).map(([s, n]) => (
            <span><Status s={s} /> {n}</span>
          ))}
          <span class="grow" />
          <button type="button" class="btn btn-small" onClick={() => setBatchOpen(true)}>Batch…</button>
        </div>
      )}
      {page && page.unavailable.length > 0 && <p class="hint">This runtime cannot show: {page.unavailable.join(', ')}; the list may be partial.</p>}
      {hist && <Bars h={hist} />}
      {err ? null : page === null ? (
        <p class="muted">Loading…</p>
      ) : page.items.length === 0 ? (
        <p class="empty">No instance matches.</p>
      ) : (
        <TableWrap label="Workflow instances">
          <table class="table ops-table">
            <caption class="visually-hidden">Workflow instances</caption>
            <thead>
              <tr><th scope="col">Id</th>{cols.map((c) => <th scope="col">{COLUMN_NAMES[c]}</th>)}</tr>
            </thead>
            <tbody>
              {page.items.map((i) => (
                <tr key={i.id} data-instance-id={i.id} class={flash.has(i.id) ? 'flash' : undefined}>
                  <td class="ops-id"><Link href={`/admin/workflows/${encodeURIComponent(i.id)}`} class="mono">{i.id}</Link></td>
                  {cols.map((c) => <td>{cell(c, i, tz)}</td>)}
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      {page?.cursor && <button type="button" class="btn" onClick={more}>Load more</button>}
      {batchOpen && <BatchDialog query={q} onClose={() => setBatchOpen(false)} />}
    </>
  );
}

