// Data access of the admin pages. The list, histogram and stats take query
// parameters that the OpenAPI document declares in the path, so these GETs build
// their URL here (errors and 401 as in api/client.ts); the POSTs are typed.
import { useEffect, useRef } from 'preact/hooks';
import { api, BASE, emitUnauthorized, ok, toApiError, ApiError, type Schemas } from '../api/client';
import { liveStream } from '../api/sse';
import type { Instance } from './ops';

export type Page = Omit<Schemas['Page'], 'items' | 'counts'> & { items: Instance[]; counts: Record<string, number> };
export type Histogram = { bucket_seconds: number; buckets: { start: string; count: number }[] };
export interface Detail {
  instance: Instance;
  execution_id?: string | null;
  input: unknown;
  output: unknown;
  failure: { type?: string; message?: string; details?: unknown } | null;
  started_at?: string | null;
  children: { id: string; kind: string; status: string }[];
  timers: { due_at: string }[];
  activities: { name: string; queued_at: string; attempts: number }[];
  buffered: { type: string; name?: string | null }[];
  unavailable: string[];
}
export interface HistoryEvent {
  seq: number;
  id: number;
  type: string;
  timestamp: string;
  name?: string | null;
  data?: unknown;
  answers?: number | null;
  duration_ms?: number | null;
}
export interface Percentiles {
  p50_ms?: number | null;
  p99_ms?: number | null;
  samples?: number;
}
export interface Stats {
  by_kind: Record<string, Record<string, number>>;
  waiting: { reason: string; count: number; oldest: { id: string; since: string } | null }[];
  stuck: Instance[];
  stuck_after_seconds: number;
  timer_lateness: Percentiles;
  activity_queue_delay: Percentiles;
  dead_letters: number;
  unavailable: string[];
}
export type DeadLetter = Schemas['DeadLetterView'];
export type Action = 'terminate' | 'suspend' | 'resume' | 'raise' | 'purge' | 'rerun';
export type BatchAction = Schemas['BatchAction'];

export async function opsGet<T>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  let res: Response;
  try {
    res = await fetch(`${BASE}${path}${s ? `?${s}` : ''}`, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached.');
  }
  if (res.status === 401) emitUnauthorized();
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!res.ok) throw toApiError(res.status, body);
  return body as T;
}

export const listInstances = (q: string, cursor?: string) => opsGet<Page>('/ops/workflows', { q, cursor, limit: 50 });
export const histogram = (q: string) => opsGet<Histogram>('/ops/workflows/histogram', { q, hours: 24 });
export const stats = () => opsGet<Stats>('/ops/workflows/stats');
export const detail = (id: string) => ok(api.GET('/api/v1/ops/workflows/{id}', { params: { path: { id } } })) as unknown as Promise<Detail>;
export const history = (id: string) =>
  (ok(api.GET('/api/v1/ops/workflows/{id}/history', { params: { path: { id } } })) as unknown as Promise<{ events: HistoryEvent[] }>).then((h) => h.events);

export function act(id: string, action: Action, body: { reason?: string; recursive?: boolean; name?: string; data?: unknown } = {}) {
  return ok(
    api.POST('/api/v1/ops/workflows/{id}/{action}', {
      params: { path: { id, action } },
      body: body as Schemas['ActionRequest'],
    }),
  );
}

export function batch(spec: { query: string; action: BatchAction; reason?: string; event?: string; dry_run: boolean }) {
  return ok(api.POST('/api/v1/ops/workflows/batch', { body: spec })) as unknown as Promise<{
    count: number;
    sample: Instance[];
    confirmation: Schemas['ConfirmationView'] | null;
  }>;
}

export const deadLetters = () => ok(api.GET('/api/v1/ops/dead-letters', { params: { query: { limit: 200 } } }));
export const replay = (id: string) => ok(api.POST('/api/v1/ops/dead-letters/{id}/replay', { params: { path: { id } } }));

/** Every instance change from the ops stream while the component is mounted. */
export function useInstanceStream(onInstance: (i: Instance) => void, enabled = true): void {
  const cb = useRef(onInstance);
  cb.current = onInstance;
  useEffect(() => {
    if (!enabled) return;
    const s = liveStream('/ops/workflows/stream', {
      onEvent: (e) => {
        if (e.event !== 'instance') return;
        try {
          cb.current(JSON.parse(e.data) as Instance);
        } catch {
          /* a malformed event is skipped */
        }
      },
    });
    return () => s.close();
  }, [enabled]);
}

export const isForbidden = (e: unknown) => e instanceof ApiError && e.status === 403;
