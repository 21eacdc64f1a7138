import { useEffect, useRef, useState } from 'preact/hooks';
import { userTz } from '../api/session';
import { formatInstant, localiseInstants } from '../ui/dates';
import { IconBell } from '../ui/icons';
import { navigate, withQuery } from '../ui/router';
import { useStore } from '../ui/store';
import { showError, showToast } from '../ui/toast';
import { markRead, notifications, snooze, SNOOZES, unreadCount } from './store';

export function Bell() {
  const list = useStore(notifications);
  const [open, setOpen] = useState(false);
  const wrap = useRef<HTMLDivElement>(null);
  const count = unreadCount(list);
  useEffect(() => {
    if (!open) return;
    const onDoc = (e: MouseEvent) => {
      if (!wrap.current?.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && setOpen(false);
    document.addEventListener('mousedown', onDoc);
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('mousedown', onDoc);
      document.removeEventListener('keydown', onKey);
    };
  }, [open]);
  const tz = userTz();
  return (
    <div class="bell" ref={wrap}>
      <button
        type="button"
        class="btn btn-icon"
        aria-expanded={open}
        aria-controls="notif-panel"
        aria-label={`Notifications, ${count} unread`}
        onClick={() => setOpen(!open)}
      >
        <IconBell />
        {count > 0 && <span class="badge" aria-hidden="true">{count > 99 ? '99+' : count}</span>}
      </button>
      {open && (
        <section id="notif-panel" class="popover" aria-label="Notifications">
          <h2 class="popover-title">Notifications</h2>
          {list.length === 0 && <p class="muted">Nothing yet.</p>}
          <ul class="plain notif-list">
            {list.slice(0, 30).map((n) => (
              <li class={n.read_at ? 'read' : 'unread'}>
                <p>
                  <strong>{n.title}</strong> <span class="muted">{formatInstant(n.created_at, tz)}</span>
                </p>
                <p>{localiseInstants(n.body, tz)}</p>
                <div class="row wrap">
                  {n.task_id && (
                    <button type="button" class="btn btn-small" onClick={() => { setOpen(false); navigate(withQuery({ task: n.task_id! })); }}>
                      Open task
                    </button>
                  )}
                  {n.kind === 'confirmation' && (
                    <button type="button" class="btn btn-small" onClick={() => { setOpen(false); navigate('/confirmations'); }}>
                      Review
                    </button>
                  )}
                  {n.kind === 'reminder' &&
                    SNOOZES.map(([label, minutes]) => (
                      <button type="button" class="btn btn-small" onClick={() => snooze(n, minutes()).then(() => showToast(`Snoozed ${label.toLowerCase()}`), showError)}>
                        Snooze {label}
                      </button>
                    ))}
                  {!n.read_at && (
                    <button type="button" class="btn btn-small" onClick={() => markRead(n.id).catch(showError)}>
                      Mark read
                    </button>
                  )}
                </div>
              </li>
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}
