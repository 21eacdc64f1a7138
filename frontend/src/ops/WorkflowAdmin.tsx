// /admin/workflows/<id>: one instance's facts, what it waits for, its history as a
// timeline (completions with a bar scaled to their duration), the raw JSON and the
// actions, each behind a confirmation dialog. Live from the ops stream.
import { useEffect, useState } from 'preact/hooks';
import { userTz } from '../api/session';
import { formatInstant, localiseInstants } from '../ui/dates';
import { Dialog } from '../ui/dialog';
import { Link, navigate } from '../ui/router';
import { showError, showToast } from '../ui/toast';
import { act, detail, history, isForbidden, useInstanceStream, type Action, type Detail, type HistoryEvent } from './api';
import { barWidths, formatDuration, waitingText } from './ops';
import { Forbidden, Status } from './shared';

const ACTIONS: [Action, string][] = [
  ['terminate', 'Terminate…'],
  ['suspend', 'Suspend…'],
  ['resume', 'Resume…'],
  ['raise', 'Raise event…'],
  ['purge', 'Purge…'],
  ['rerun', 'Rerun…'],
];
const DONE = new Set(['completed', 'failed', 'terminated', 'canceled']);

function ActionDialog({ id, action, onClose, onDone }: { id: string; action: Action; onClose: () => void; onDone: (newId: string | null) => void }) {
  const [reason, setReason] = useState('');
  const [recursive, setRecursive] = useState(false);
  const [name, setName] = useState('');
  const [data, setData] = useState('');
  const [dataErr, setDataErr] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const label = ACTIONS.find((a) => a[0] === action)![1].replace('…', '');
  const submit = async (e: Event) => {
    e.preventDefault();
    let parsed: unknown;
    if (action === 'raise' && data.trim()) {
      try {
        parsed = JSON.parse(data);
      } catch {
        setDataErr('Data must be JSON, e.g. {"approved": true}.');
        return;
      }
    }
    setBusy(true);
    try {
      const body: { reason?: string; recursive?: boolean; name?: string; data?: unknown } = {};
      if (reason) body.reason = reason;
      if (action === 'terminate') body.recursive = recursive;
      if (action === 'raise') {
        body.name = name;
        if (parsed !== undefined) body.data = parsed;
      }
      const r = await act(id, action, body);
      showToast(`${label}: done.`);
      onDone(r.new_id ?? null);
    } catch (err) {
      showError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title={`${label} this instance`} onClose={onClose}>
      <form onSubmit={submit}>
        <p class="mono">{id}</p>
        {action === 'purge' && <p>Purging deletes the instance and its history for good.</p>}
        {action === 'rerun' && <p>Starts a new instance with the same input.</p>}
        {(action === 'terminate' || action === 'suspend' || action === 'resume') && (
          <label class="field">
            <span>Reason</span>
            <input value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          </label>
        )}
        {action === 'terminate' && (
          <label class="check-label">
            <input type="checkbox" checked={recursive} onChange={(e) => setRecursive(e.currentTarget.checked)} /> Children too
          </label>
        )}
        {action === 'raise' && (
          <>
            <label class="field">
              <span>Event name</span>
              <input value={name} required onInput={(e) => setName(e.currentTarget.value)} />
            </label>
            <label class="field">
              <span>Data (JSON)</span>
              <textarea rows={3} class="mono" value={data} aria-invalid={dataErr ? 'true' : undefined} aria-describedby={dataErr ? 'raise-err' : undefined} onInput={(e) => { setData(e.currentTarget.value); setDataErr(null); }} />
            </label>
            {dataErr && <p id="raise-err" class="error" role="alert">{dataErr}</p>}
          </>
        )}
        <div class="row-end">
          <button type="button" class="btn" onClick={onClose}>Cancel</button>
          <button type="submit" class={`btn ${action === 'terminate' || action === 'purge' ? 'btn-danger' : 'btn-primary'}`} disabled={busy}>{label}</button>
        </div>
      </form>
    </Dialog>
  );
}

function Timeline({ events, tz }: { events: HistoryEvent[]; tz: string }) {
  const widths = barWidths(events.map((e) => e.duration_ms));
  return (
    <ol class="timeline ops-timeline" aria-label="History">
      {events.map((e, i) => (
        <li>
          <time dateTime={e.timestamp}>{formatInstant(e.timestamp, tz)}</time> <strong>{e.type}</strong>
          {e.name && <> · {e.name}</>}
          {typeof e.duration_ms === 'number' && (
            <div class="dur">
              <span class="dur-track" aria-hidden="true"><span class="dur-bar" style={{ width: `${widths[i]}%` }} /></span>
              <span class="dur-text">{formatDuration(e.duration_ms)}{typeof e.answers === 'number' && e.answers >= 0 ? ` after event ${e.answers}` : ''}</span>
            </div>
          )}
          {e.data != null && <details><summary>Data</summary><pre tabIndex={0} role="region" aria-label={`Data of event ${e.seq}`}>{JSON.stringify(e.data, null, 2)}</pre></details>}
        </li>
      ))}
    </ol>
  );
}

export function WorkflowAdminPage({ id }: { id: string }) {
  const tz = userTz();
  const [d, setD] = useState<Detail | null>(null);
  const [events, setEvents] = useState<HistoryEvent[] | null>(null);
  const [forbidden, setForbidden] = useState(false);
  const [missing, setMissing] = useState<string | null>(null);
  const [dialog, setDialog] = useState<Action | null>(null);
  const load = () => {
    detail(id).then(setD, (e: unknown) => {
      if (isForbidden(e)) setForbidden(true);
      else setMissing(e instanceof Error ? e.message : String(e));
    });
    history(id).then(setEvents, () => setEvents([]));
  };
  useEffect(() => {
    setD(null);
    setEvents(null);
    setMissing(null);
    load();
  }, [id]);
  useInstanceStream((i) => {
    if (i.id !== id) return;
    setD((cur) => (cur && cur.instance.updated_at !== i.updated_at ? { ...cur, instance: i } : cur));
    // What else changed (timers, history) comes with the detail.
    load();
  }, !forbidden);
  const back = <p><Link href="/admin/workflows">← Workflows (admin)</Link></p>;
  if (forbidden) return (<>{back}<h1 class="page-title">Workflow</h1><Forbidden /></>);
  if (missing) return (<>{back}<h1 class="page-title">Workflow</h1><p role="alert" class="error">{missing}</p></>);
  const i = d?.instance;
  const fmt = (s: string) => formatInstant(s, tz);
  const done = i ? DONE.has(i.status) : false;
  const allowed = (a: Action) =>
    !i ? false : a === 'purge' || a === 'rerun' ? done : a === 'resume' ? i.status === 'suspended' : a === 'suspend' ? !done && i.status !== 'suspended' : !done;
  return (
    <>
      {back}
      <h1 class="page-title">{i ? `${i.kind} instance` : 'Workflow'}</h1>
      {!d || !i ? (
        <p class="muted">Loading…</p>
      ) : (
        <>
          <dl class="facts">
            <dt>Id</dt><dd class="mono">{i.id}</dd>
            <dt>Kind</dt><dd>{i.kind}</dd>
            <dt>Status</dt><dd data-testid="status"><Status s={i.status} /></dd>
            <dt>Waiting</dt><dd>{waitingText(i.waiting, fmt) || '—'}</dd>
            <dt>Custom status</dt><dd>{i.custom_status ? localiseInstants(i.custom_status, tz) : '—'}</dd>
            <dt>User</dt><dd>{i.user_id ? <Link href={`/admin/workflows?q=${encodeURIComponent(`user:${i.user_id}`)}`} class="mono">{i.user_id}</Link> : '—'}</dd>
            <dt>Task</dt><dd>{i.task_id ? <Link href={`/admin/workflows?q=${encodeURIComponent(`task:${i.task_id}`)}`} class="mono">{i.task_id}</Link> : '—'}</dd>
            {i.parent_id && <><dt>Parent</dt><dd><Link href={`/admin/workflows/${encodeURIComponent(i.parent_id)}`} class="mono">{i.parent_id}</Link></dd></>}
            <dt>Created</dt><dd>{fmt(i.created_at)}</dd>
            {d.started_at && <><dt>Started</dt><dd>{fmt(d.started_at)}</dd></>}
            <dt>Updated</dt><dd>{fmt(i.updated_at)}</dd>
            {i.completed_at && <><dt>Finished</dt><dd>{fmt(i.completed_at)}</dd></>}
            {d.failure && <><dt>Failure</dt><dd class="error">{d.failure.type ? `${d.failure.type}: ` : ''}{d.failure.message ?? JSON.stringify(d.failure)}</dd></>}
          </dl>
          <div class="row wrap ops-actions" role="group" aria-label="Actions">
            {ACTIONS.map(([a, label]) => (
              <button type="button" class={`btn btn-small${a === 'terminate' || a === 'purge' ? ' btn-danger' : ''}`} disabled={!allowed(a)} onClick={() => setDialog(a)}>{label}</button>
            ))}
          </div>
          {d.unavailable.length > 0 && <p class="hint">Not available on this runtime: {d.unavailable.join(', ')}.</p>}
          <h2>Pending</h2>
          {d.timers.length + d.activities.length + d.children.length + d.buffered.length === 0 ? (
            <p class="muted">Nothing pending.</p>
          ) : (
            <ul class="pending">
              {d.timers.map((t) => <li>Timer due {fmt(t.due_at)}</li>)}
              {d.activities.map((a) => <li>Activity <strong>{a.name}</strong>, queued {fmt(a.queued_at)}, {a.attempts} {a.attempts === 1 ? 'attempt' : 'attempts'}</li>)}
              {d.children.map((c) => <li>Child <Link href={`/admin/workflows/${encodeURIComponent(c.id)}`} class="mono">{c.id}</Link> ({c.kind}, <Status s={c.status} />)</li>)}
              {d.buffered.map((b) => <li>Buffered {b.type}{b.name ? ` “${b.name}”` : ''}</li>)}
            </ul>
          )}
        </>
      )}
      <h2>History</h2>
      {events === null ? <p class="muted">Loading…</p> : events.length === 0 ? <p class="muted">No history.</p> : <Timeline events={events} tz={tz} />}
      {d && (
        <details class="ops-json">
          <summary>JSON</summary>
          <pre tabIndex={0} role="region" aria-label="Detail and history as JSON">{JSON.stringify({ detail: d, history: events }, null, 2)}</pre>
        </details>
      )}
      {dialog && (
        <ActionDialog
          id={id}
          action={dialog}
          onClose={() => setDialog(null)}
          onDone={(newId) => {
            setDialog(null);
            if (dialog === 'purge') navigate('/admin/workflows');
            else if (newId) navigate(`/admin/workflows/${encodeURIComponent(newId)}`);
            else load();
          }}
        />
      )}
    </>
  );
}
