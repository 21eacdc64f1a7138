// Confirmations: one store of the ones this tab knows, kept current by decisions
// made here, in other tabs (BroadcastChannel), on a 409 (decided elsewhere), on
// the notification stream's "confirmation" events and when the tab regains focus.
import { api, ApiError, ok, type Confirmation } from '../api/client';
import { store } from '../ui/store';

export const confirmations = store<Map<string, Confirmation>>(new Map());

export function remember(list: Confirmation[]): void {
  confirmations.set((m) => {
    const n = new Map(m);
    for (const c of list) n.set(c.id, c);
    return n;
  });
}

const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('errand-confirmations') : null;
channel?.addEventListener('message', (e: MessageEvent<Confirmation>) => remember([e.data]));

export async function fetchConfirmations(status?: string): Promise<Confirmation[]> {
  const r = await ok(api.GET('/api/v1/confirmations', { params: { query: status ? { status, limit: 100 } : { limit: 100 } } }));
  remember(r.items);
  return r.items;
}

export async function fetchConfirmation(id: string): Promise<Confirmation> {
  const c = await ok(api.GET('/api/v1/confirmations/{id}', { params: { path: { id } } }));
  remember([c]);
  return c;
}

/**
 * Re-reads every confirmation still pending here, so that a decision made
 * elsewhere shows: on the stream's confirmation notifications and on focus.
 */
export async function refreshPending(): Promise<void> {
  const known = [...confirmations.get().values()].filter((c) => c.status === 'pending');
  await Promise.all(known.map((c) => fetchConfirmation(c.id).catch(() => undefined)));
}

export async function decide(id: string, decision: 'approve' | 'reject'): Promise<Confirmation> {
  try {
    const c = await ok(api.POST('/api/v1/confirmations/{id}', { params: { path: { id } }, body: { decision } }));
    remember([c]);
    channel?.postMessage(c);
    return c;
  } catch (e) {
    if (e instanceof ApiError && e.status === 409) return fetchConfirmation(id);
    throw e;
  }
}

addEventListener('focus', () => {
  refreshPending().catch(() => undefined);
});
