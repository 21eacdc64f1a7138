// The URL is the state a person would bookmark: the view, its filter or search,
// the selected task (`?task=`), the calendar's mode and date.
import { h, type ComponentChildren } from 'preact';
import { store, useStore } from './store';

export interface Location {
  path: string;
  query: URLSearchParams;
}

function read(): Location {
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

export const loc = store<Location>(read());
addEventListener('popstate', () => loc.set(read()));

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  const url = new URL(to, location.origin);
  if (url.pathname + url.search === location.pathname + location.search) return;
  performance.mark('errand:navigate');
  if (opts.replace) history.replaceState(null, '', url.pathname + url.search);
  else history.pushState(null, '', url.pathname + url.search);
  loc.set(read());
}

/** The current path with some query parameters changed (`null` removes one). */
export function withQuery(changes: Record<string, string | null>, base: Location = loc.get()): string {
  const q = new URLSearchParams(base.query);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === '') q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  return base.path + (s ? `?${s}` : '');
}

export function useLocation(): Location {
  return useStore(loc);
}

/** Matches `pattern` ("/tag/:name") against `path`; the params, or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split('/').filter(Boolean);
  const s = path.split('/').filter(Boolean);
  if (p.length !== s.length) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const a = p[i]!;
    const b = s[i]!;
    if (a.startsWith(':')) out[a.slice(1)] = decodeURIComponent(b);
    else if (a !== b) return null;
  }
  return out;
}

export function Link(props: {
  href: string;
  class?: string;
  children?: ComponentChildren;
  'aria-current'?: 'page' | undefined;
  'aria-label'?: string;
  onClick?: () => void;
}) {
  const { href, onClick, ...rest } = props;
  return h('a', {
    ...rest,
    href,
    onClick: (e: MouseEvent) => {
      if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      onClick?.();
      navigate(href);
    },
  });
}
