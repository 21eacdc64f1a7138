import { useEffect, useState } from 'preact/hooks';
import type { Confirmation } from '../api/client';
import { relativeSpan } from '../ui/dates';
import { useStore } from '../ui/store';
import { showError } from '../ui/toast';
import { confirmations, decide, remember } from './confirmations';

const STATUS_TEXT: Record<string, string> = {
  pending: 'Waiting for your decision',
  approved: 'Approved',
  rejected: 'Rejected',
  expired: 'Expired unanswered',
};

function resultText(c: Confirmation): string | null {
  const r = c.result as { deleted?: unknown[]; missing?: unknown[] } | null | undefined;
  if (!r || typeof r !== 'object') return null;
  const parts: string[] = [];
  if (Array.isArray(r.deleted)) parts.push(`${r.deleted.length} deleted`);
  if (Array.isArray(r.missing) && r.missing.length) parts.push(`${r.missing.length} already gone`);
  return parts.join(', ') || null;
}

/** A confirmation with Approve / Reject and its time left; it stays until decided. */
export function ConfirmationCard(props: { confirmation: Confirmation; onDecided?: (c: Confirmation) => void }) {
  const all = useStore(confirmations);
  const c = all.get(props.confirmation.id) ?? props.confirmation;
  const [now, setNow] = useState(Date.now());
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (!all.has(props.confirmation.id)) remember([props.confirmation]);
  }, [props.confirmation.id]);
  useEffect(() => {
    if (c.status !== 'pending') return;
    const iv = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(iv);
  }, [c.status]);
  useEffect(() => {
    if (c.status !== 'pending') props.onDecided?.(c);
  }, [c.status]);
  const left = new Date(c.expires_at).getTime() - now;
  const pending = c.status === 'pending' && left > 0;
  const act = async (d: 'approve' | 'reject') => {
    setBusy(true);
    try {
      await decide(c.id, d);
    } catch (e) {
      showError(e);
    } finally {
      setBusy(false);
    }
  };
  const titleId = `conf-${c.id}`;
  const result = resultText(c);
  return (
    <article class={`confirm-card status-${c.status}`} aria-labelledby={titleId}>
      <h3 id={titleId} class="confirm-summary">{c.summary}</h3>
      <p class="confirm-status">
        {c.status === 'pending' ? (left > 0 ? `${STATUS_TEXT.pending} · expires ${relativeSpan(left)}` : 'Expiring…') : STATUS_TEXT[c.status] ?? c.status}
        {result && ` · ${result}`}
      </p>
      {pending && (
        <div class="row-end">
          <button type="button" class="btn" disabled={busy} onClick={() => act('reject')}>
            Reject
          </button>
          <button type="button" class="btn btn-danger" disabled={busy} onClick={() => act('approve')}>
            Approve
          </button>
        </div>
      )}
    </article>
  );
}
