import { useState } from 'preact/hooks';
import { request } from '../api';
import { accessOf, type Session, type SignInProvider } from '../auth';

/** Development sign-in: paste a bearer token (`npm run token -- --role operations`); the gateway checks it at once. */
export function SignInPage({
  provider,
  notice,
  onSignedIn,
}: {
  provider: SignInProvider;
  notice: string | null;
  onSignedIn: (session: Session) => void;
}) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    let session: Session;
    try {
      session = provider.accept(token);
    } catch (e) {
      setError((e as Error).message);
      return;
    }
    if (accessOf(session.role) !== 'refused') {
      setBusy(true);
      const { errors } = await request(session, 'query ConsoleSignIn { exceptions(first: 0) { totalCount } }');
      setBusy(false);
      const code = errors[0]?.extensions?.code;
      if (code === 'UNAUTHENTICATED' || code === 'NETWORK_ERROR') {
        provider.signOut();
        setError(`The gateway refused this token: ${errors[0]!.message} (${code})`);
        return;
      }
    }
    onSignedIn(session);
  };
  return (
    <main class="sign-in">
      <form onSubmit={submit} aria-label="sign in">
        <h1>Meridian operations console</h1>
        {notice && <p class="notice">{notice}</p>}
        <label for="token">Bearer token</label>
        <textarea
          id="token"
          name="token"
          rows={5}
          placeholder="eyJhbGciOi…"
          value={token}
          onInput={(e) => setToken((e.target as HTMLTextAreaElement).value)}
          required
        />
        <p class="hint">
          In development, mint one with <code>npm run token -- --role operations</code> (acts on exceptions) or{' '}
          <code>--role bi</code> (read-only). It stays in this tab only.
        </p>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || token.trim() === ''}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
