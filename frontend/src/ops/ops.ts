// Pure helpers of the admin workflow pages: presets, saved views and columns (kept
// in localStorage), histogram scaling, timeline bar widths, list upserts.

export interface Instance {
  id: string;
  kind: string;
  status: string;
  waiting?: { reason: string; until?: string | null; events?: string[] } | null;
  created_at: string;
  updated_at: string;
  completed_at?: string | null;
  custom_status?: string | null;
  parent_id?: string | null;
  user_id?: string | null;
  task_id?: string | null;
}

export const PRESETS: [string, string][] = [
  ['Running', 'status:running'],
  ['Waiting on a timer', 'waiting:timer'],
  ['Waiting for an event', 'waiting:event'],
  ['Stuck', 'stuck'],
  ['Failed', 'status:failed'],
];

export const COLUMNS = ['kind', 'status', 'waiting', 'custom_status', 'task', 'user', 'created', 'updated'] as const;
export type Column = (typeof COLUMNS)[number];
export const COLUMN_NAMES: Record<Column, string> = {
  kind: 'Kind',
  status: 'Status',
  waiting: 'Waiting',
  custom_status: 'Custom status',
  task: 'Task',
  user: 'User',
  created: 'Created',
  updated: 'Updated',
};
export const DEFAULT_COLUMNS: Column[] = ['kind', 'status', 'waiting', 'custom_status', 'created'];

export interface SavedView {
  name: string;
  query: string;
}

/** What a key in storage holds, or the fallback when it is missing or not what it should be. */
function readJson<T>(storage: Pick<Storage, 'getItem'>, key: string, valid: (v: unknown) => v is T, fallback: T): T {
  try {
    const raw = storage.getItem(key);
    if (raw === null) return fallback;
    const v: unknown = JSON.parse(raw);
    return valid(v) ? v : fallback;
  } catch {
    return fallback;
  }
}

const isViews = (v: unknown): v is SavedView[] =>
  Array.isArray(v) && v.every((x) => x && typeof x === 'object' && typeof (x as SavedView).name === 'string' && typeof (x as SavedView).query === 'string');

export const VIEWS_KEY = 'errand.ops.views';
export const COLUMNS_KEY = 'errand.ops.columns';

export function loadViews(storage: Pick<Storage, 'getItem'>): SavedView[] {
  return readJson(storage, VIEWS_KEY, isViews, []);
}

/** Adds a view (a view with the same name is replaced, in place); names and queries are trimmed, empty ones refused. */
export function addView(views: SavedView[], name: string, query: string): SavedView[] {
  const v = { name: name.trim(), query: query.trim() };
  if (!v.name || !v.query) return views;
  const i = views.findIndex((x) => x.name === v.name);
  if (i < 0) return [...views, v];
  return views.map((x, j) => (j === i ? v : x));
}

export function removeView(views: SavedView[], name: string): SavedView[] {
  return views.filter((x) => x.name !== name);
}

/** The remembered columns, in the canonical order; unknown names are dropped. */
export function loadColumns(storage: Pick<Storage, 'getItem'>): Column[] {
  const v = readJson(storage, COLUMNS_KEY, (x): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string'), DEFAULT_COLUMNS);
  return COLUMNS.filter((c) => v.includes(c));
}

export function toggleColumn(cols: Column[], c: Column, on: boolean): Column[] {
  const set = new Set(cols);
  if (on) set.add(c);
  else set.delete(c);
  return COLUMNS.filter((x) => set.has(x));
}

export interface Bar {
  start: string;
  count: number;
  /** Height as a percentage of the tallest bucket (0 to 100); a non-empty bucket is at least 2. */
  pct: number;
}

/** Histogram buckets `{start, count}` scaled to the tallest; a malformed bucket counts 0. */
export function scaleHistogram(buckets: unknown[]): { bars: Bar[]; max: number; total: number } {
  const rows = buckets.map((b) => {
    const { start, count } = typeof b === 'object' && b !== null ? (b as Record<string, unknown>) : {};
    return { start: typeof start === 'string' ? start : '', count: typeof count === 'number' && count > 0 ? count : 0 };
  });
  const max = rows.reduce((m, r) => Math.max(m, r.count), 0);
  const total = rows.reduce((s, r) => s + r.count, 0);
  const bars = rows.map((r) => ({ ...r, pct: max === 0 || r.count === 0 ? 0 : Math.max(2, Math.round((r.count / max) * 100)) }));
  return { bars, max, total };
}

/** Bar widths (percent of the longest duration; at least 1 when there is a duration) for timeline events. */
export function barWidths(durations: (number | null | undefined)[]): (number | null)[] {
  const max = durations.reduce<number>((m, d) => (typeof d === 'number' && d > m ? d : m), 0);
  return durations.map((d) => {
    if (typeof d !== 'number' || d < 0) return null;
    if (max === 0) return 1;
    return Math.max(1, Math.round((d / max) * 1000) / 10);
  });
}

/** "1.99 s", "2 ms", "3 min 5 s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** Replaces a listed instance by id; `changed` says whether it was listed and differs. */
export function upsertListed(items: Instance[], next: Instance): { items: Instance[]; changed: boolean } {
  const i = items.findIndex((x) => x.id === next.id);
  if (i < 0) return { items, changed: false };
  const cur = items[i]!;
  if (cur.updated_at === next.updated_at && cur.status === next.status && cur.custom_status === next.custom_status) return { items, changed: false };
  const out = items.slice();
  out[i] = next;
  return { items: out, changed: true };
}

/** "timer until …", "event (approval)", or "" when it waits for nothing. */
export function waitingText(w: Instance['waiting'], fmt: (iso: string) => string): string {
  if (!w) return '';
  if (w.reason === 'timer' && w.until) return `timer until ${fmt(w.until)}`;
  if (w.reason === 'event' && w.events && w.events.length) return `event (${w.events.join(', ')})`;
  return w.reason;
}
