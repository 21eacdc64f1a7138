// Notifications: the list from GET /notifications, then live from the SSE stream
// (one store for the stream; it resumes with Last-Event-ID after a drop). A fired
// reminder also raises a toast with Snooze and Mark done.
import { api, ok, type Notification } from '../api/client';
import { liveStream, type LiveStream } from '../api/sse';
import { userTz } from '../api/session';
import { refreshPending } from '../chat/confirmations';
import { completeTask } from '../tasks/data';
import { localiseInstants, minutesUntilTomorrowMorning } from '../ui/dates';
import { store } from '../ui/store';
import { showError, showToast } from '../ui/toast';

export const notifications = store<Notification[]>([]);
export const streamConnected = store(false);

export function unreadCount(list: Notification[]): number {
  return list.filter((n) => !n.read_at).length;
}

/** Adds or replaces notifications by id, newest first. */
export function mergeNotifications(list: Notification[], incoming: Notification[]): Notification[] {
  const byId = new Map(list.map((n) => [n.id, n]));
  for (const n of incoming) byId.set(n.id, n);
  return [...byId.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
}

let stream: (LiveStream & { lastEventId(): string | undefined }) | null = null;

async function fetchList() {
  return (await ok(api.GET('/api/v1/notifications', { params: { query: { limit: 50 } } }))).items;
}

/**
 * A reconnect that had no event id to resume from (nothing had arrived yet) starts
 * at the server's present: what came in between is read from the list instead.
 */
async function catchUp(): Promise<void> {
  const known = new Set(notifications.get().map((n) => n.id));
  const items = await fetchList();
  notifications.set((l) => mergeNotifications(l, items));
  for (const n of items.filter((x) => !known.has(x.id) && !x.read_at).reverse()) arrived(n);
}

export async function startNotifications(): Promise<void> {
  stopNotifications();
  let connects = 0;
  stream = liveStream('/notifications/stream', {
    onState: (c) => {
      streamConnected.set(c);
      if (c && connects++ > 0 && stream?.lastEventId() === undefined) catchUp().catch(() => undefined);
    },
    onEvent: (e) => {
      if (e.event !== 'notification') return;
      let n: Notification;
      try {
        n = JSON.parse(e.data) as Notification;
      } catch {
        return;
      }
      notifications.set((l) => mergeNotifications(l, [n]));
      arrived(n);
    },
  });
  try {
    const items = await fetchList();
    notifications.set((l) => mergeNotifications(l, items));
  } catch {
    /* the bell stays empty */
  }
}

export function stopNotifications(): void {
  stream?.close();
  stream = null;
  notifications.set([]);
}

export async function markRead(id: string): Promise<void> {
  const n = await ok(api.POST('/api/v1/notifications/{id}/read', { params: { path: { id } } }));
  notifications.set((l) => mergeNotifications(l, [n]));
}

export async function snooze(n: Notification, minutes: number): Promise<void> {
  await ok(api.POST('/api/v1/notifications/{id}/snooze', { params: { path: { id: n.id } }, body: { minutes } }));
  if (!n.read_at) await markRead(n.id).catch(() => undefined);
}

export const SNOOZES: [string, () => number][] = [
  ['10 min', () => 10],
  ['1 h', () => 60],
  ['Tomorrow', () => minutesUntilTomorrowMorning(new Date(), userTz())],
];

function arrived(n: Notification): void {
  if (n.kind === 'confirmation' || n.kind === 'confirmation_settled') refreshPending().catch(() => undefined);
  if (n.kind !== 'reminder') return;
  const text = localiseInstants(n.body, userTz());
  showToast(/^reminder\b/i.test(text) ? text : `Reminder: ${text}`, {
    kind: 'reminder',
    timeoutMs: 30_000,
    actions: [
      ...SNOOZES.map(([label, minutes]) => ({
        label: `Snooze ${label}`,
        run: () => {
          snooze(n, minutes()).then(() => showToast(`Snoozed ${label.toLowerCase()}`), showError);
        },
      })),
      ...(n.task_id
        ? [
            {
              label: 'Mark done',
              run: () => {
                completeTask(n.task_id!)
                  .then(() => markRead(n.id))
                  .then(() => showToast('Marked done'), showError);
              },
            },
          ]
        : []),
    ],
  });
}
