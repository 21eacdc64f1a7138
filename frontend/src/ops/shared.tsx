// Bits shared by the admin pages: the 403 message and the status badge.
import type { ComponentChildren } from 'preact';
import { ApiError } from '../api/client';

export function Forbidden() {
  return (
    <div class="card" role="alert">
      <h2>Admins only</h2>
      <p>This page shows every user's workflows, so only an administrator may open it. Ask an admin of this Errand for access.</p>
    </div>
  );
}

export function Status({ s }: { s: string }) {
  return <span class={`wf-status wf-${s}`}>{s}</span>;
}

/** "At character 5: …" for a query the server refused, else the message. */
export function queryError(e: unknown): string {
  if (e instanceof ApiError) {
    const pos = e.details.position;
    return typeof pos === 'number' ? `At character ${pos + 1}: ${e.message.replace(/^at position \d+: /, '')}` : e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

/** A table that may scroll sideways on narrow screens: a focusable, named region so keyboards can scroll it. */
export function TableWrap({ label, children }: { label: string; children: ComponentChildren }) {
  return <div class="table-wrap ops-wrap" tabIndex={0} role="region" aria-label={label}>{children}</div>;
}
