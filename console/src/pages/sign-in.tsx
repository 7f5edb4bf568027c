/**
 * Sign-in: an API token is exchanged for a server-side session (an HttpOnly cookie). The
 * token is sent once, as the bearer credential of a POST, and kept nowhere in the browser.
 */
import { useState } from 'preact/hooks';
import { ApiError, signIn } from '../api.ts';
import type { Session } from '../types.ts';

export function SignInPage(props: { onSignedIn: (s: Session) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const session = await signIn(token);
      setToken('');
      props.onSignedIn(session);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : `could not reach the controller (${(e as Error).message})`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="sign-in">
      <h1>toolbelt</h1>
      <p>Sign in with an API token. The first start of the controller prints an admin token; admins create more with <code>toolbelt tokens create</code>.</p>
      <form onSubmit={submit} class="card">
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          required
          value={token}
          aria-invalid={error ? 'true' : undefined}
          aria-describedby={error ? 'token-error' : undefined}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
        />
        {error ? (
          <p id="token-error" class="field-error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" disabled={busy || token.length === 0}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
