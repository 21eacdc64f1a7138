// The browser session: an HttpOnly cookie the server sets at log-in (the token
// never reaches script). This module knows who is signed in.
import { store } from '../ui/store';
import { api, ok, onUnauthorized, type Profile } from './client';

export type Session = { state: 'loading' } | { state: 'anon'; loggedOut?: boolean } | { state: 'user'; user: Profile };
export const session = store<Session>({ state: 'loading' });

export function currentUser(): Profile | null {
  const s = session.get();
  return s.state === 'user' ? s.user : null;
}
export function userTz(): string {
  return currentUser()?.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC';
}

// Whether this browser was signed in: without it the first visit goes straight to
// the log-in page instead of asking /auth/me for a 401 (the cookie is HttpOnly, so
// script cannot see it; this flag says nothing secret).
const HINT = 'errand.signedIn';
function setHint(on: boolean): void {
  if (on) localStorage.setItem(HINT, '1');
  else localStorage.removeItem(HINT);
}

onUnauthorized(() => {
  setHint(false);
  session.set({ state: 'anon' });
});
session.subscribe((s) => s.state !== 'loading' && setHint(s.state === 'user'));

export async function loadSession(): Promise<void> {
  if (!localStorage.getItem(HINT)) {
    session.set({ state: 'anon' });
    return;
  }
  try {
    const user = await ok(api.GET('/api/v1/auth/me'));
    session.set({ state: 'user', user });
  } catch {
    session.set({ state: 'anon' });
  }
}

export async function login(email: string, password: string): Promise<void> {
  const r = await ok(api.POST('/api/v1/auth/login', { body: { email, password } }));
  session.set({ state: 'user', user: r.user });
}

export function browserTimezone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

export async function signup(email: string, password: string, name: string): Promise<void> {
  const r = await ok(
    api.POST('/api/v1/auth/signup', { body: { email, password, name: name || null, timezone: browserTimezone() } }),
  );
  session.set({ state: 'user', user: r.user });
}

export async function logout(): Promise<void> {
  try {
    await ok(api.POST('/api/v1/auth/logout'));
  } finally {
    session.set({ state: 'anon', loggedOut: true });
  }
}

export async function updateProfile(changes: { name?: string | null; timezone?: string }): Promise<void> {
  const user = await ok(api.PATCH('/api/v1/auth/me', { body: changes }));
  session.set({ state: 'user', user });
}
