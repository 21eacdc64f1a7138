import { useState } from 'preact/hooks';
import { login, signup, browserTimezone } from '../api/session';
import { Link, navigate, useLocation } from '../ui/router';
import { ApiError } from '../api/client';

export function AuthPage({ mode }: { mode: 'login' | 'signup' }) {
  const loc = useLocation();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const next = loc.query.get('next') ?? '/inbox';
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === 'login') await login(email, password);
      else await signup(email, password, name);
      navigate(next.startsWith('/') && !next.startsWith('//') ? next : '/inbox', { replace: true });
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  const title = mode === 'login' ? 'Log in to Errand' : 'Create your Errand account';
  return (
    <main class="auth" id="main">
      <form class="auth-card" onSubmit={submit} aria-labelledby="auth-title">
        <p class="brand" aria-hidden="true">Errand</p>
        <h1 id="auth-title">{title}</h1>
        {mode === 'signup' && (
          <label class="field">
            <span>Name (optional)</span>
            <input value={name} onInput={(e) => setName(e.currentTarget.value)} autocomplete="name" />
          </label>
        )}
        <label class="field">
          <span>Email</span>
          <input type="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} autocomplete="email" />
        </label>
        <label class="field">
          <span>Password</span>
          <input
            type="password"
            required
            minLength={mode === 'signup' ? 8 : undefined}
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            autocomplete={mode === 'login' ? 'current-password' : 'new-password'}
          />
        </label>
        {mode === 'signup' && <p class="hint">Your timezone: {browserTimezone()} (change it later in Settings).</p>}
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button class="btn btn-primary" type="submit" disabled={busy}>
          {mode === 'login' ? 'Log in' : 'Sign up'}
        </button>
        <p class="hint">
          {mode === 'login' ? (
            <>No account yet? <Link href="/signup">Sign up</Link></>
          ) : (
            <>Already have an account? <Link href="/login">Log in</Link></>
          )}
        </p>
      </form>
    </main>
  );
}
