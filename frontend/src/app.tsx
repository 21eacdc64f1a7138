// The shell: header (menu, search, quick add, chat, bell), sidebar navigation,
// the page of the URL, the task editor pane (?task=), dialogs and toasts.
import { useEffect, useState } from 'preact/hooks';
import { session, loadSession } from './api/session';
import { AuthPage } from './auth/AuthPage';
import { CalendarPage } from './calendar/CalendarPage';
import { ChatPage, ConfirmationsPage } from './chat/ChatPage';
import { Bell } from './notifications/Bell';
import { startNotifications, stopNotifications } from './notifications/store';
import { QuickAdd, quickAddOpen } from './quick-add/QuickAdd';
import { SearchBox, searchFocus } from './search/SearchBox';
import { SettingsPage } from './settings/SettingsPage';
import { EditorPane } from './tasks/Editor';
import { activeList } from './tasks/TaskList';
import { filters, loadFilters, loadTags, tags } from './tasks/sidebar';
import { FilterPage, SavedFilterPage, SearchPage, TagPage, ViewPage } from './tasks/Views';
import { Dialog } from './ui/dialog';
import { IconChat, IconMenu, IconPlus } from './ui/icons';
import { shortcutsOn } from './ui/prefs';
import { Link, match, navigate, useLocation } from './ui/router';
import { createKeyHandler, SHORTCUT_HELP } from './ui/shortcuts';
import { useStore } from './ui/store';
import { Toasts } from './ui/toast';
import { WorkflowPage, WorkflowsPage } from './workflows/WorkflowsPage';
import { StatsPage } from './ops/StatsPage';
import { WorkflowAdminPage } from './ops/WorkflowAdmin';
import { WorkflowsAdminPage } from './ops/WorkflowsAdmin';

function Page({ path }: { path: string }) {
  let m: Record<string, string> | null;
  if (path === '/' || path === '/inbox') return <ViewPage view="inbox" />;
  if (path === '/today') return <ViewPage view="today" />;
  if (path === '/upcoming') return <ViewPage view="upcoming" />;
  if (path === '/completed') return <ViewPage view="completed" />;
  if (path === '/search') return <SearchPage />;
  if (path === '/filter') return <FilterPage />;
  if ((m = match('/filters/:id', path))) return <SavedFilterPage id={m.id!} />;
  if ((m = match('/tag/:name', path))) return <TagPage name={m.name!} />;
  if (path === '/calendar') return <CalendarPage />;
  if (path === '/chat') return <ChatPage id={null} />;
  if ((m = match('/chat/:id', path))) return <ChatPage id={m.id!} />;
  if (path === '/confirmations') return <ConfirmationsPage />;
  if (path === '/workflows') return <WorkflowsPage />;
  if ((m = match('/workflows/:id', path))) return <WorkflowPage id={m.id!} />;
  if (path === '/settings') return <SettingsPage />;
  if (path === '/admin/workflows') return <WorkflowsAdminPage />;
  if ((m = match('/admin/workflows/:id', path))) return <WorkflowAdminPage id={m.id!} />;
  if (path === '/admin/stats') return <StatsPage />;
  return (
    <>
      <h1 class="page-title">Not found</h1>
      <p>
        Nothing lives at this address. <Link href="/inbox">Go to the Inbox</Link>.
      </p>
    </>
  );
}

const NAV: [string, string][] = [
  ['/inbox', 'Inbox'],
  ['/today', 'Today'],
  ['/upcoming', 'Upcoming'],
  ['/calendar', 'Calendar'],
  ['/completed', 'Completed'],
  ['/filter', 'Filter'],
];
const NAV2: [string, string][] = [
  ['/chat', 'Assistant'],
  ['/confirmations', 'Confirmations'],
  ['/workflows', 'My workflows'],
  ['/settings', 'Settings'],
];
const ADMIN_NAV: [string, string][] = [
  ['/admin/workflows', 'Workflows'],
  ['/admin/stats', 'Stats'],
];

function Sidebar({ path, onNavigate }: { path: string; onNavigate: () => void }) {
  const t = useStore(tags);
  const f = useStore(filters);
  const s = useStore(session);
  const admin = s.state === 'user' && s.user.role === 'admin';
  const cur = (href: string) => (path === href || (href === '/inbox' && path === '/') || (href !== '/inbox' && path.startsWith(`${href}/`)) ? 'page' : undefined);
  return (
    <nav class="sidebar" aria-label="Main">
      <ul class="plain nav-list">
        {NAV.map(([href, label]) => (
          <li><Link href={href} aria-current={cur(href)} onClick={onNavigate}>{label}</Link></li>
        ))}
      </ul>
      {f.length > 0 && (
        <>
          <h2 class="nav-h">Filters</h2>
          <ul class="plain nav-list">
            {f.map((x) => (
              <li>
                <Link href={`/filters/${encodeURIComponent(x.id)}`} aria-current={cur(`/filters/${x.id}`)} onClick={onNavigate}>
                  <span class="nav-label">
                    <span class="dot" aria-hidden="true" style={x.color ? { background: x.color } : undefined} />
                    {x.name}
                  </span>
                </Link>
              </li>
            ))}
          </ul>
        </>
      )}
      {t.length > 0 && (
        <>
          <h2 class="nav-h">Tags</h2>
          <ul class="plain nav-list">
            {t.map((x) => (
              <li>
                <Link href={`/tag/${encodeURIComponent(x.name)}`} aria-current={cur(`/tag/${x.name}`)} onClick={onNavigate}>
                  #{x.name} <span class="muted">{x.count}</span>
                </Link>
              </li>
            ))}
          </ul>
        </>
      )}
      <ul class="plain nav-list nav-bottom">
        {NAV2.map(([href, label]) => (
          <li><Link href={href} aria-current={cur(href)} onClick={onNavigate}>{label}</Link></li>
        ))}
      </ul>
      {admin && (
        <>
          <h2 class="nav-h">Admin</h2>
          <ul class="plain nav-list">
            {ADMIN_NAV.map(([href, label]) => (
              <li><Link href={href} aria-current={cur(href)} onClick={onNavigate}>{label}</Link></li>
            ))}
          </ul>
        </>
      )}
    </nav>
  );
}

function Shell() {
  const loc = useLocation();
  const [menu, setMenu] = useState(false);
  const [help, setHelp] = useState(false);
  const taskId = loc.query.get('task');
  useEffect(() => {
    loadTags();
    loadFilters();
    startNotifications();
    return stopNotifications;
  }, []);
  useEffect(() => {
    const handler = createKeyHandler(
      () => {
        const list = activeList.get();
        const b: Record<string, () => void> = {
          q: () => quickAddOpen.set(true),
          '/': () => searchFocus.set((n) => n + 1),
          '?': () => setHelp(true),
          'g i': () => navigate('/inbox'),
          'g t': () => navigate('/today'),
          'g u': () => navigate('/upcoming'),
        };
        if (list) {
          Object.assign(b, {
            j: () => list.move(1),
            k: () => list.move(-1),
            e: () => list.complete(),
            t: () => list.due(),
            x: () => list.select(),
            '1': () => list.priority('1'),
            '2': () => list.priority('2'),
            '3': () => list.priority('3'),
            '4': () => list.priority('4'),
          });
        }
        return b;
      },
      { enabled: () => shortcutsOn.get() && !document.querySelector('dialog[open]') },
    );
    const onKey = (e: KeyboardEvent) => {
      handler(e);
    };
    addEventListener('keydown', onKey);
    // Tests wait for this before they type shortcuts.
    document.documentElement.dataset.keys = 'ready';
    return () => {
      removeEventListener('keydown', onKey);
      delete document.documentElement.dataset.keys;
    };
  }, []);
  useEffect(() => setMenu(false), [loc.path]);
  return (
    <div class={`shell${taskId ? ' has-editor' : ''}${menu ? ' menu-open' : ''}`}>
      <a class="skip" href="#main">Skip to content</a>
      <header class="topbar">
        <button type="button" class="btn btn-icon menu-btn" aria-label="Menu" aria-expanded={menu} aria-controls="sidebar" onClick={() => setMenu(!menu)}>
          <IconMenu />
        </button>
        <Link href="/inbox" class="brand" aria-label="Errand, Inbox">Errand</Link>
        <SearchBox />
        <div class="top-actions">
          <button type="button" class="btn btn-primary btn-add" aria-label="Quick add (q)" onClick={() => quickAddOpen.set(true)}>
            <IconPlus /> <span class="hide-narrow">Add</span>
          </button>
          <Link href="/chat" class="btn btn-icon" aria-label="Assistant"><IconChat /></Link>
          <Bell />
          <button type="button" class="btn btn-icon" aria-label="Keyboard shortcuts (?)" onClick={() => setHelp(true)}>?</button>
        </div>
      </header>
      <div class="body">
        <div id="sidebar" class="sidebar-wrap">
          <Sidebar path={loc.path} onNavigate={() => setMenu(false)} />
        </div>
        <main id="main" class="main" tabIndex={-1}>
          <Page path={loc.path} />
        </main>
        {taskId && <EditorPane id={taskId} />}
      </div>
      <QuickAdd />
      {help && (
        <Dialog title="Keyboard shortcuts" onClose={() => setHelp(false)}>
          <table class="table">
            <caption class="visually-hidden">Shortcuts</caption>
            <tbody>
              {SHORTCUT_HELP.map(([k, d]) => (
                <tr><th scope="row"><kbd>{k}</kbd></th><td>{d}</td></tr>
              ))}
            </tbody>
          </table>
          <p class="hint">Turn single-key shortcuts off in <Link href="/settings" onClick={() => setHelp(false)}>Settings</Link>.</p>
        </Dialog>
      )}
    </div>
  );
}

export function App() {
  const s = useStore(session);
  const loc = useLocation();
  useEffect(() => {
    loadSession();
  }, []);
  const authPath = loc.path === '/login' || loc.path === '/signup';
  useEffect(() => {
    if (s.state === 'anon' && !authPath) {
      const next = loc.path === '/' || s.loggedOut ? '' : `?next=${encodeURIComponent(loc.path + location.search)}`;
      navigate(`/login${next}`, { replace: true });
    }
    if (s.state === 'user' && authPath) navigate(loc.query.get('next') ?? '/inbox', { replace: true });
  }, [s.state, authPath]);
  useEffect(() => {
    document.title = `${pageName(loc.path)} · Errand`;
  }, [loc.path]);
  return (
    <>
      {s.state === 'loading' ? (
        <main class="auth" id="main"><p class="muted">Loading…</p></main>
      ) : s.state === 'anon' ? (
        authPath ? <AuthPage mode={loc.path === '/signup' ? 'signup' : 'login'} /> : null
      ) : authPath ? null : (
        <Shell />
      )}
      <Toasts />
    </>
  );
}

function pageName(path: string): string {
  if (path.startsWith('/admin/stats')) return 'Workflow stats';
  if (path.startsWith('/admin/workflows')) return 'Workflows (admin)';
  const seg = path.split('/')[1] ?? '';
  const names: Record<string, string> = {
    '': 'Inbox', inbox: 'Inbox', today: 'Today', upcoming: 'Upcoming', completed: 'Completed', calendar: 'Calendar',
    search: 'Search', filter: 'Filter', filters: 'Filter', tag: 'Tag', chat: 'Assistant', confirmations: 'Confirmations',
    workflows: 'My workflows', settings: 'Settings', login: 'Log in', signup: 'Sign up',
  };
  return names[seg] ?? 'Errand';
}
