// /admin/stats: counts by kind and status, waits, stuck instances, latencies and
// the dead letters (each replayable).
import { useEffect, useState } from 'preact/hooks';
import { userTz } from '../api/session';
import { formatInstant } from '../ui/dates';
import { Link } from '../ui/router';
import { showError, showToast } from '../ui/toast';
import { deadLetters, isForbidden, replay, stats, type DeadLetter, type Percentiles, type Stats } from './api';
import { Forbidden, Status, TableWrap } from './shared';

const ms = (v: number | null | undefined) => (typeof v === 'number' ? `${v.toFixed(1)} ms` : '—');

function Lat({ label, p }: { label: string; p: Percentiles }) {
  return <tr><th scope="row">{label}</th><td>{ms(p.p50_ms)}</td><td>{ms(p.p99_ms)}</td><td>{p.samples ?? 0}</td></tr>;
}

export function StatsPage() {
  const tz = userTz();
  const [s, setS] = useState<Stats | null>(null);
  const [dl, setDl] = useState<DeadLetter[] | null>(null);
  const [forbidden, setForbidden] = useState(false);
  const [busy, setBusy] = useState<string | null>(null);
  const load = () => {
    stats().then(setS, (e: unknown) => (isForbidden(e) ? setForbidden(true) : showError(e)));
    deadLetters().then((r) => setDl(r.items), (e: unknown) => (isForbidden(e) ? setForbidden(true) : showError(e)));
  };
  useEffect(load, []);
  if (forbidden) return (<><h1 class="page-title">Workflow stats</h1><Forbidden /></>);
  const statuses = s ? [...new Set(Object.values(s.by_kind).flatMap((m) => Object.keys(m)))].sort() : [];
  const doReplay = async (id: string) => {
    setBusy(id);
    try {
      await replay(id);
      showToast('Replayed.');
      load();
    } catch (e) {
      showError(e);
    } finally {
      setBusy(null);
    }
  };
  return (
    <>
      <h1 class="page-title">Workflow stats</h1>
      {!s ? <p class="muted">Loading…</p> : (
        <>
          {s.unavailable.length > 0 && <p class="hint">Not available on this runtime: {s.unavailable.join(', ')}.</p>}
          <h2>By kind and status</h2>
          <TableWrap label="Instances by kind and status">
            <table class="table">
              <caption class="visually-hidden">Instances by kind and status</caption>
              <thead><tr><th scope="col">Kind</th>{statuses.map((x) => <th scope="col">{x}</th>)}</tr></thead>
              <tbody>
                {Object.entries(s.by_kind).map(([k, m]) => (
                  <tr><th scope="row"><Link href={`/admin/workflows?q=${encodeURIComponent(`kind:${k}`)}`}>{k}</Link></th>{statuses.map((x) => <td>{m[x] ?? 0}</td>)}</tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
          <h2>Waiting</h2>
          <TableWrap label="Waiting instances by reason">
            <table class="table">
              <caption class="visually-hidden">Waiting instances by reason</caption>
              <thead><tr><th scope="col">Reason</th><th scope="col">Count</th><th scope="col">Oldest since</th></tr></thead>
              <tbody>
                {s.waiting.map((w) => (
                  <tr>
                    <th scope="row">{w.reason}</th><td>{w.count}</td>
                    <td>{w.oldest ? <Link href={`/admin/workflows/${encodeURIComponent(w.oldest.id)}`}>{formatInstant(w.oldest.since, tz)}</Link> : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
          <h2>Stuck (ready work untouched for {Math.round(s.stuck_after_seconds / 60)} min)</h2>
          {s.stuck.length === 0 ? <p class="muted">None.</p> : (
            <ul>
              {s.stuck.map((i) => <li><Link href={`/admin/workflows/${encodeURIComponent(i.id)}`} class="mono">{i.id}</Link> <Status s={i.status} /> since {formatInstant(i.updated_at, tz)}</li>)}
            </ul>
          )}
          <h2>Latency over the last hour</h2>
          <TableWrap label="Latency percentiles">
            <table class="table">
              <caption class="visually-hidden">Latency percentiles</caption>
              <thead><tr><th scope="col">Measure</th><th scope="col">p50</th><th scope="col">p99</th><th scope="col">Samples</th></tr></thead>
              <tbody>
                <Lat label="Timer lateness" p={s.timer_lateness} />
                <Lat label="Activity queue delay" p={s.activity_queue_delay} />
              </tbody>
            </table>
          </TableWrap>
        </>
      )}
      <h2>Dead letters{s ? ` (${s.dead_letters} unresolved)` : ''}</h2>
      {dl === null ? <p class="muted">Loading…</p> : dl.length === 0 ? <p class="muted">No dead letters.</p> : (
        <TableWrap label="Dead letters">
          <table class="table">
            <caption class="visually-hidden">Dead letters</caption>
            <thead><tr><th scope="col">Topic</th><th scope="col">Consumer</th><th scope="col">Error</th><th scope="col">Attempts</th><th scope="col">When</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>
            <tbody>
              {dl.map((x) => (
                <tr>
                  <td>{x.topic}</td><td>{x.consumer}</td><td>{x.error}</td><td>{x.attempts}</td><td>{formatInstant(x.created_at, tz)}</td>
                  <td>{x.replayed_at ? `Replayed ${formatInstant(x.replayed_at, tz)}` : <button type="button" class="btn btn-small" disabled={busy === x.id} aria-label={`Replay ${x.topic} event ${x.event_id}`} onClick={() => doReplay(x.id)}>Replay</button>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </>
  );
}
