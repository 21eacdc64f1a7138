// The assistant: conversations, replies streamed from POST /chat/stream (the
// actions arrive as they run, then the reply), chips for each action linking to
// the tasks it touched, Undo after a completion, and confirmation cards that stay
// until decided.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ok, type Confirmation } from '../api/client';
import { postStream } from '../api/sse';
import { userTz } from '../api/session';
import { emitTask } from '../tasks/data';
import { formatInstant } from '../ui/dates';
import { Link, navigate, withQuery } from '../ui/router';
import { showError } from '../ui/toast';
import { actionLabel, actionTasks, MAX_LINKS, undoable, type ChatAction } from './actions';
import { ConfirmationCard } from './ConfirmationCard';
import { remember } from './confirmations';

interface Message {
  role: string;
  content: string;
  actions: ChatAction[];
  confirmations: Confirmation[];
  created_at?: string;
}

function Conversations({ current }: { current: string | null }) {
  const [items, setItems] = useState<{ id: string; title: string; updated_at: string }[]>([]);
  useEffect(() => {
    ok(api.GET('/api/v1/chat/conversations', { params: { query: { limit: 50 } } })).then((r) => setItems(r.items), () => setItems([]));
  }, [current]);
  return (
    <nav class="conv-list" aria-label="Conversations">
      <Link href="/chat" class="btn btn-small">New conversation</Link>
      <ul class="plain">
        {items.map((c) => (
          <li>
            <Link href={`/chat/${encodeURIComponent(c.id)}`} aria-current={c.id === current ? 'page' : undefined}>
              {c.title || 'Conversation'}
            </Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}

export function ChatPage({ id }: { id: string | null }) {
  const [messages, setMessages] = useState<Message[]>([]);
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [live, setLive] = useState<ChatAction[]>([]);
  const local = useRef<string | null>(null);
  const end = useRef<HTMLDivElement>(null);
  const tz = userTz();
  useEffect(() => {
    if (id && id === local.current) return;
    setMessages([]);
    if (!id) return;
    ok(api.GET('/api/v1/chat/conversations/{id}', { params: { path: { id } } })).then((c) => {
      const msgs = (c.messages as unknown as Message[]).map((m) => ({ ...m, actions: m.actions ?? [], confirmations: m.confirmations ?? [] }));
      for (const m of msgs) remember(m.confirmations);
      setMessages(msgs);
    }, showError);
  }, [id]);
  useEffect(() => end.current?.scrollIntoView({ block: 'end' }), [messages.length, live.length, busy]);
  const send = async (said: string) => {
    const message = said.trim();
    if (!message || busy) return;
    setText('');
    setBusy(true);
    setLive([]);
    setMessages((m) => [...m, { role: 'user', content: message, actions: [], confirmations: [] }]);
    try {
      await postStream('/chat/stream', id ? { conversation_id: id, message } : { message }, (ev) => {
        if (ev.event === 'action') setLive((l) => [...l, JSON.parse(ev.data) as ChatAction]);
        else if (ev.event === 'reply') {
          const r = JSON.parse(ev.data) as { conversation_id: string; reply: string; actions: ChatAction[]; confirmations: Confirmation[] };
          remember(r.confirmations);
          setLive([]);
          setMessages((m) => [...m, { role: 'assistant', content: r.reply, actions: r.actions, confirmations: r.confirmations }]);
          if (r.actions.some((a) => a.tool !== 'list_tasks' && a.tool !== 'search_tasks')) emitTask({ type: 'refresh' });
          if (r.conversation_id !== id) {
            local.current = r.conversation_id;
            navigate(`/chat/${encodeURIComponent(r.conversation_id)}`, { replace: !id });
          }
        }
      });
    } catch (err) {
      showError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="chat">
      <h1 id="chat-h" class="page-title chat-title">Assistant</h1>
      <Conversations current={id} />
      <section class="chat-main" aria-labelledby="chat-h">
        <div class="messages" role="log" aria-live="polite" aria-label="Conversation">
          {messages.length === 0 && !busy && (
            <p class="muted">Try “add buy milk tomorrow at 5pm #shopping”, “what's due this week?” or “delete the milk task”.</p>
          )}
          {messages.map((m, i) => (
            <div class={`msg msg-${m.role}`}>
              <p class="msg-who">{m.role === 'user' ? 'You' : 'Errand'}{m.created_at && <span class="muted"> · {formatInstant(m.created_at, tz)}</span>}</p>
              <p class="msg-text">{m.content}</p>
              {m.actions.length > 0 && <ActionChips actions={m.actions} />}
              {i === messages.length - 1 && undoable(m.actions) && (
                <button type="button" class="btn btn-small" disabled={busy} onClick={() => send('undo')}>Undo</button>
              )}
              {m.confirmations.map((c) => (
                <ConfirmationCard confirmation={c} onDecided={(d) => d.status === 'approved' && emitTask({ type: 'refresh' })} />
              ))}
            </div>
          ))}
          {busy && (
            <div class="msg msg-assistant">
              <p class="msg-who">Errand</p>
              {live.length > 0 && <ActionChips actions={live} />}
              <p class="msg-text muted">Thinking…</p>
            </div>
          )}
          <div ref={end} />
        </div>
        <form class="chat-form row" onSubmit={(e) => { e.preventDefault(); send(text); }}>
          <label for="chat-input" class="visually-hidden">Message to the assistant</label>
          <input id="chat-input" class="grow" value={text} maxLength={4000} placeholder="Ask Errand…" onInput={(e) => setText(e.currentTarget.value)} autocomplete="off" />
          <button type="submit" class="btn btn-primary" disabled={busy || !text.trim()}>Send</button>
        </form>
      </section>
    </div>
  );
}

/** Tools that show tasks rather than change them. */
const LISTS = ['list_tasks', 'search_tasks', 'filter_tasks', 'sort_tasks', 'agenda', 'completed_tasks'];

function TaskLink({ id, children }: { id: string; children: string }) {
  return (
    <a href={withQuery({ task: id })} onClick={(e) => { e.preventDefault(); navigate(withQuery({ task: id })); }}>
      {children}
    </a>
  );
}

function ActionChips({ actions }: { actions: ChatAction[] }) {
  return (
    <ul class="chips" aria-label="Actions taken">
      {actions.map((a) => {
        const tasks = actionTasks(a);
        const failed = a.result?.ok === false ? ' chip-failed' : '';
        // One task: the chip is its link. Several: the label, then a link per task.
        const [only] = tasks;
        if (only && tasks.length === 1 && !LISTS.includes(a.tool)) {
          return <li class={`chip chip-action${failed}`} title={a.result?.summary}><TaskLink id={only.id}>{actionLabel(a)}</TaskLink></li>;
        }
        const shown = tasks.filter((t) => t.title).slice(0, MAX_LINKS);
        return (
          <>
            <li class={`chip chip-action${failed}`} title={a.result?.summary}>{actionLabel(a)}</li>
            {shown.map((t) => <li class="chip chip-task"><TaskLink id={t.id}>{t.title ?? ''}</TaskLink></li>)}
            {tasks.length > shown.length && shown.length > 0 && <li class="chip chip-task muted">+{tasks.length - shown.length} more</li>}
          </>
        );
      })}
    </ul>
  );
}

export function ConfirmationsPage() {
  const [items, setItems] = useState<Confirmation[] | null>(null);
  useEffect(() => {
    ok(api.GET('/api/v1/confirmations', { params: { query: { status: 'pending', limit: 100 } } })).then((r) => {
      remember(r.items);
      setItems(r.items);
    }, showError);
  }, []);
  return (
    <>
      <h1 class="page-title">Pending confirmations</h1>
      <p class="hint">Deletions and other destructive actions wait here for your yes. They stay until decided or expired.</p>
      {items === null ? (
        <p class="muted">Loading…</p>
      ) : items.length === 0 ? (
        <p class="empty">Nothing is waiting for you.</p>
      ) : (
        <div class="stack">
          {items.map((c) => (
            <ConfirmationCard confirmation={c} onDecided={(d) => d.status === 'approved' && emitTask({ type: 'refresh' })} />
          ))}
        </div>
      )}
    </>
  );
}
