// My workflows: reminders, recurring series and confirmations with their status,
// task, next fire time and custom status; each one's history as a timeline.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, ok, type Workflow } from '../api/client';
import { userTz } from '../api/session';
import { statusText } from './status';
import { formatInstant } from '../ui/dates';
import { Link, navigate, useLocation, withQuery } from '../ui/router';
import { showError } from '../ui/toast';

const KINDS = ['', 'reminder', 'recurring', 'confirmation'];
const STATUSES = ['', 'pending', 'running', 'suspended', 'completed', 'failed', 'terminated', 'unknown'];

export function fireTime(w: Workflow): string | null {
  if (w.next_fire_at) return w.next_fire_at;
  const input = (w.input ?? {}) as Record<string, unknown>;
  const at = input.at ?? input.fire_at ?? input.next_at;
  return typeof at === 'string' && !Number.isNaN(Date.parse(at)) ? at : null;
}

export function WorkflowsPage() {
  const loc = useLocation();
  const kind = loc.query.get('kind') ?? '';
  const status = loc.query.get('status') ?? '';
  const [items, setItems] = useState<Workflow[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const tz = userTz();
  useEffect(() => {
    setItems(null);
    const query: Record<string, string | number> = { limit: 100 };
    if (kind) query.kind = kind;
    if (status) query.status = status;
    ok(api.GET('/api/v1/workflows', { params: { query } })).then((r) => {
      setItems(r.items);
      setCursor(r.next_cursor ?? null);
    }, showError);
  }, [kind, status]);
  const more = () => {
    if (!cursor) return;
    const query: Record<string, string | number> = { limit: 100, cursor };
    if (kind) query.kind = kind;
    if (status) query.status = status;
    ok(api.GET('/api/v1/workflows', { params: { query } })).then((r) => {
      setItems((l) => [...(l ?? []), ...r.items]);
      setCursor(r.next_cursor ?? null);
    }, showError);
  };
  return (
    <>
      <h1 class="page-title">My workflows</h1>
      <div class="row wrap filters-row">
        <label class="field inline">
          <span>Kind</span>
          <select value={kind} onChange={(e) => navigate(withQuery({ kind: e.currentTarget.value }))}>
            {KINDS.map((k) => <option value={k}>{k || 'All'}</option>)}
          </select>
        </label>
        <label class="field inline">
          <span>Status</span>
          <select value={status} onChange={(e) => navigate(withQuery({ status: e.currentTarget.value }))}>
            {STATUSES.map((k) => <option value={k}>{k || 'All'}</option>)}
          </select>
        </label>
      </div>
      {items === null ? (
        <p class="muted">Loading…</p>
      ) : items.length === 0 ? (
        <p class="empty">No workflows yet: reminders, repeating tasks and confirmations start them.</p>
      ) : (
        <div class="table-wrap">
          <table class="table">
            <caption class="visually-hidden">Workflows</caption>
            <thead>
              <tr><th scope="col">Kind</th><th scope="col">Status</th><th scope="col">Task</th><th scope="col">Fires</th><th scope="col">Custom status</th><th scope="col">Started</th></tr>
            </thead>
            <tbody>
              {items.map((w) => {
                const at = fireTime(w);
                return (
                  <tr>
                    <td><Link href={`/workflows/${encodeURIComponent(w.id)}`} aria-label={`${w.kind} workflow ${w.id}`}>{w.kind}</Link></td>
                    <td><span class={`wf-status wf-${w.status}`}>{w.status}</span></td>
                    <td>{w.task_id ? <Link href={withQuery({ task: w.task_id })}>Open task</Link> : '—'}</td>
                    <td>{at ? formatInstant(at, tz) : '—'}</td>
                    <td>{statusText(w, tz) || '—'}</td>
                    <td>{formatInstant(w.created_at, tz)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {cursor && <button type="button" class="btn" onClick={more}>Load more</button>}
    </>
  );
}

interface HistoryEvent {
  seq: number;
  type: string;
  timestamp: string;
  name?: string | null;
  data?: unknown;
}

export function WorkflowPage({ id }: { id: string }) {
  const [w, setW] = useState<Workflow | null>(null);
  const [events, setEvents] = useState<HistoryEvent[] | null>(null);
  // Why there is no history, when the server says (daprd 1.16 keeps none it can give).
  const [noHistory, setNoHistory] = useState<string | null>(null);
  const tz = userTz();
  useEffect(() => {
    ok(api.GET('/api/v1/workflows/{id}', { params: { path: { id } } })).then(setW, showError);
    ok(api.GET('/api/v1/workflows/{id}/history', { params: { path: { id } } })).then(
      (h) => setEvents(h.events as unknown as HistoryEvent[]),
      (e: unknown) => {
        setNoHistory(e instanceof ApiError && e.status === 501 ? e.message : null);
        setEvents([]);
      },
    );
  }, [id]);
  return (
    <>
      <p><Link href="/workflows">← My workflows</Link></p>
      <h1 class="page-title">{w ? `${w.kind} workflow` : 'Workflow'}</h1>
      {w && (
        <dl class="facts">
          <dt>Id</dt><dd class="mono">{w.id}</dd>
          <dt>Status</dt><dd><span class={`wf-status wf-${w.status}`}>{w.status}</span></dd>
          {statusText(w, tz) && <><dt>Custom status</dt><dd>{statusText(w, tz)}</dd></>}
          {w.task_id && <><dt>Task</dt><dd><Link href={withQuery({ task: w.task_id })}>Open task</Link></dd></>}
          {fireTime(w) && <><dt>Fires</dt><dd>{formatInstant(fireTime(w)!, tz)}</dd></>}
          <dt>Started</dt><dd>{formatInstant(w.created_at, tz)}</dd>
          {w.failure != null && <><dt>Failure</dt><dd>{JSON.stringify(w.failure)}</dd></>}
        </dl>
      )}
      <h2>History</h2>
      {events === null ? (
        <p class="muted">Loading…</p>
      ) : events.length === 0 ? (
        <p class="muted">{noHistory ?? 'No history (finished instances are purged after 30 days).'}</p>
      ) : (
        <ol class="timeline">
          {events.map((e) => (
            <li>
              <time dateTime={e.timestamp}>{formatInstant(e.timestamp, tz)}</time> <strong>{e.type}</strong>
              {e.name && <> · {e.name}</>}
              {e.data != null && <details><summary>Data</summary><pre>{JSON.stringify(e.data, null, 2)}</pre></details>}
            </li>
          ))}
        </ol>
      )}
    </>
  );
}
