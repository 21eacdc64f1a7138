import { useState } from 'preact/hooks';
import { api, ok } from '../api/client';
import { browserTimezone, currentUser, logout, updateProfile } from '../api/session';
import { shortcutsOn, theme, type Theme } from '../ui/prefs';
import { useStore } from '../ui/store';
import { showError, showToast } from '../ui/toast';

function zones(): string[] {
  try {
    return (Intl as unknown as { supportedValuesOf(k: string): string[] }).supportedValuesOf('timeZone');
  } catch {
    return ['UTC'];
  }
}

export function SettingsPage() {
  const user = currentUser();
  const t = useStore(theme);
  const keys = useStore(shortcutsOn);
  const [tz, setTz] = useState(user?.timezone ?? 'UTC');
  const [name, setName] = useState(user?.name ?? '');
  const [cur, setCur] = useState('');
  const [next, setNext] = useState('');
  const [pwError, setPwError] = useState<string | null>(null);
  const all = zones();
  if (!all.includes(tz)) all.unshift(tz);
  return (
    <>
      <h1 class="page-title">Settings</h1>
      <section class="card" aria-labelledby="s-profile">
        <h2 id="s-profile">Profile</h2>
        <p class="muted">{user?.email}</p>
        <form
          class="stack"
          onSubmit={(e) => {
            e.preventDefault();
            updateProfile({ name: name.trim() || null, timezone: tz }).then(() => showToast('Profile saved'), showError);
          }}
        >
          <label class="field">
            <span>Name</span>
            <input value={name} onInput={(e) => setName(e.currentTarget.value)} autocomplete="name" />
          </label>
          <label class="field">
            <span>Timezone</span>
            <select value={tz} onChange={(e) => setTz(e.currentTarget.value)}>
              {all.map((z) => <option value={z}>{z}</option>)}
            </select>
          </label>
          {tz !== browserTimezone() && (
            <button type="button" class="btn btn-small" onClick={() => setTz(browserTimezone())}>Use this browser's ({browserTimezone()})</button>
          )}
          <div class="row-end"><button class="btn btn-primary" type="submit">Save profile</button></div>
        </form>
      </section>
      <section class="card" aria-labelledby="s-look">
        <h2 id="s-look">Appearance and keyboard</h2>
        <fieldset class="field">
          <legend>Theme</legend>
          <div class="row wrap">
            {(['light', 'dark', 'system'] as Theme[]).map((v) => (
              <label class="check-label">
                <input type="radio" name="theme" value={v} checked={t === v} onChange={() => theme.set(v)} />
                {v === 'system' ? 'System' : v === 'light' ? 'Light' : 'Dark'}
              </label>
            ))}
          </div>
        </fieldset>
        <label class="check-label">
          <input type="checkbox" checked={keys} onChange={(e) => shortcutsOn.set(e.currentTarget.checked)} />
          Single-key shortcuts (q, /, j, k, e, …)
        </label>
      </section>
      <section class="card" aria-labelledby="s-pw">
        <h2 id="s-pw">Change password</h2>
        <form
          class="stack"
          onSubmit={async (e) => {
            e.preventDefault();
            setPwError(null);
            try {
              await ok(api.POST('/api/v1/auth/password', { body: { current_password: cur, new_password: next } }));
              setCur('');
              setNext('');
              showToast('Password changed; your other sessions were logged out.');
            } catch (err) {
              setPwError(err instanceof Error ? err.message : String(err));
            }
          }}
        >
          <input type="text" autocomplete="username" value={user?.email ?? ''} hidden readOnly />
          <label class="field">
            <span>Current password</span>
            <input type="password" required autocomplete="current-password" value={cur} onInput={(e) => setCur(e.currentTarget.value)} />
          </label>
          <label class="field">
            <span>New password</span>
            <input type="password" required minLength={8} autocomplete="new-password" value={next} onInput={(e) => setNext(e.currentTarget.value)} />
          </label>
          {pwError && <p class="error" role="alert">{pwError}</p>}
          <div class="row-end"><button class="btn btn-primary" type="submit">Change password</button></div>
        </form>
      </section>
      <section class="card" aria-labelledby="s-out">
        <h2 id="s-out">Session</h2>
        <button type="button" class="btn btn-danger" onClick={() => logout().catch(showError)}>Log out</button>
      </section>
    </>
  );
}
