// Task data access: list queries per view, writes, and a bus that tells every
// mounted list what changed so it can patch itself without refetching.
import { api, ok, type NewTask, type Task, type TaskList, type TaskPatch, type Confirmation } from '../api/client';
import { addDays, dayKey, zonedToInstant } from '../ui/dates';

export interface ListQuery {
  q?: string;
  filter?: string;
  status?: 'open' | 'done' | 'all';
  tag?: string;
  due_before?: string;
  due_after?: string;
  sort?: string;
  limit?: number;
}

export type ViewKind = 'inbox' | 'today' | 'upcoming' | 'completed';

/** The list query behind each built-in view, for a user in `tz` at `now`. */
export function viewQuery(view: ViewKind, now: Date, tz: string): ListQuery {
  switch (view) {
    case 'inbox':
      return { status: 'open', sort: 'due,-priority' };
    case 'today':
      return { filter: 'today | overdue', sort: 'due,-priority' };
    case 'upcoming': {
      const today = dayKey(now, tz);
      return {
        status: 'open',
        due_after: zonedToInstant(today, 0, 0, tz).toISOString(),
        due_before: zonedToInstant(addDays(today, 14), 0, 0, tz).toISOString(),
        sort: 'due,-priority',
      };
    }
    case 'completed':
      return { status: 'done', sort: '-updated' };
  }
}

export async function listTasks(q: ListQuery, cursor?: string | null): Promise<TaskList> {
  const query: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') query[k] = v as string | number;
  if (cursor) query.cursor = cursor;
  return ok(api.GET('/api/v1/tasks', { params: { query } }));
}

export type TaskEvent =
  | { type: 'upsert'; task: Task }
  | { type: 'remove'; id: string }
  | { type: 'refresh' };
const listeners = new Set<(e: TaskEvent) => void>();
export function onTaskEvent(fn: (e: TaskEvent) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
export function emitTask(e: TaskEvent): void {
  for (const fn of [...listeners]) fn(e);
}

export async function getTask(id: string): Promise<Task> {
  return ok(api.GET('/api/v1/tasks/{id}', { params: { path: { id } } }));
}

export async function createTask(body: NewTask): Promise<Task> {
  const t = await ok(api.POST('/api/v1/tasks', { body, headers: { 'Idempotency-Key': crypto.randomUUID() } }));
  emitTask({ type: 'refresh' });
  return t;
}

export async function patchTask(id: string, patch: TaskPatch): Promise<Task> {
  const t = await ok(api.PATCH('/api/v1/tasks/{id}', { params: { path: { id } }, body: patch }));
  emitTask({ type: 'upsert', task: t });
  return t;
}

export async function completeTask(id: string): Promise<Task> {
  const t = await ok(api.POST('/api/v1/tasks/{id}/complete', { params: { path: { id } } }));
  emitTask({ type: 'upsert', task: t });
  return t;
}

export async function reopenTask(id: string): Promise<Task> {
  const t = await ok(api.POST('/api/v1/tasks/{id}/reopen', { params: { path: { id } } }));
  emitTask({ type: 'upsert', task: t });
  emitTask({ type: 'refresh' });
  return t;
}

export async function deleteTask(id: string): Promise<void> {
  await ok(api.DELETE('/api/v1/tasks/{id}', { params: { path: { id }, query: {} } }));
  emitTask({ type: 'remove', id });
}

/** Bulk delete waits for a yes: the answer is a pending confirmation. */
export async function bulkDelete(ids: string[]): Promise<Confirmation> {
  return ok(api.POST('/api/v1/tasks/bulk-delete', { body: { ids } })) as Promise<Confirmation>;
}

export const PRIORITIES = [
  { value: 'urgent', label: 'p1 · Urgent', short: 'p1' },
  { value: 'high', label: 'p2 · High', short: 'p2' },
  { value: 'medium', label: 'p3 · Medium', short: 'p3' },
  { value: 'low', label: 'p4 · Low', short: 'p4' },
  { value: 'none', label: 'No priority', short: '' },
] as const;

/** Keyboard `1`-`4` to a priority. */
export function priorityForKey(k: string): Task['priority'] | null {
  return ({ '1': 'urgent', '2': 'high', '3': 'medium', '4': 'low' } as const)[k as '1'] ?? null;
}

/** Does `task` still belong in a list of this status? */
export function fitsStatus(task: Task, q: ListQuery): boolean {
  const status = q.status ?? (q.filter && /\bdone\b/.test(q.filter) ? 'all' : 'open');
  return status === 'all' || task.status === status;
}
