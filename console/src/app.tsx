import { createContext } from 'preact';
import { useContext, useEffect, useMemo, useState } from 'preact/hooks';
import { setUnauthenticatedHandler } from './api';
import { accessOf, type Access, type Session, type SignInProvider } from './auth';
import { createLive, type Live, type LinkState } from './live';
import { ExceptionsPage } from './pages/exceptions';
import { JourneyPage } from './pages/journey';
import { RefusedPage } from './pages/refused';
import { RunPage } from './pages/run';
import { RunsPage } from './pages/runs';
import { SignInPage } from './pages/sign-in';
import { linkTo, match, navigate, useLocation } from './router';

/** What every page gets: the session, what its role may do, the live connection. */
export interface ConsoleContext {
  session: Session;
  access: Access;
  live: Live;
}

const Context = createContext<ConsoleContext | null>(null);

/** The signed-in console's context. @throws Error outside the signed-in shell */
export function useConsole(): ConsoleContext {
  const value = useContext(Context);
  if (!value) throw new Error('useConsole outside the console shell');
  return value;
}

/** The console: sign-in, the refusal page for roles that may not use it, or the pages. */
export function App({ provider }: { provider: SignInProvider }) {
  const [session, setSession] = useState<Session | null>(() => provider.current());
  const [notice, setNotice] = useState<string | null>(null);
  const signOut = (message: string | null) => {
    provider.signOut();
    setNotice(message);
    setSession(null);
  };
  useEffect(() => {
    setUnauthenticatedHandler((error) =>
      signOut(`Signed out: the gateway no longer accepts the token (${error.message}).`),
    );
  }, []);
  if (!session) {
    return (
      <SignInPage
        provider={provider}
        notice={notice}
        onSignedIn={(next) => {
          setNotice(null);
          setSession(next);
        }}
      />
    );
  }
  const access = accessOf(session.role);
  if (access === 'refused') return <RefusedPage session={session} onSignOut={() => signOut(null)} />;
  return <Shell session={session} access={access} onSignOut={signOut} />;
}

function Shell({
  session,
  access,
  onSignOut,
}: {
  session: Session;
  access: Access;
  onSignOut: (message: string | null) => void;
}) {
  const live = useMemo(
    () =>
      createLive(session, (code, reason) =>
        onSignOut(`Signed out: the live connection was refused (${code}${reason ? `: ${reason}` : ''}).`),
      ),
    [session.token],
  );
  useEffect(() => () => live.dispose(), [live]);
  const [linkState, setLinkState] = useState<LinkState>(live.state());
  useEffect(() => live.onState(setLinkState), [live]);
  const { path } = useLocation();
  useEffect(() => {
    if (path === '/') navigate('/exceptions', true);
  }, [path]);
  const runParams = match('/runs/:id', path);
  const page = runParams ? (
    <RunPage key={runParams.id} id={runParams.id!} />
  ) : path === '/runs' ? (
    <RunsPage />
  ) : path === '/journey' ? (
    <JourneyPage />
  ) : path === '/exceptions' || path === '/' ? (
    <ExceptionsPage />
  ) : (
    <section class="page">
      <h1>Not found</h1>
      <p>The console has no page {path}.</p>
    </section>
  );
  const tab = (to: string, label: string) => (
    <a
      {...linkTo(to)}
      class={path.startsWith(to) ? 'tab current' : 'tab'}
      aria-current={path.startsWith(to) ? 'page' : undefined}
    >
      {label}
    </a>
  );
  return (
    <Context.Provider value={{ session, access, live }}>
      <header class="top">
        <span class="brand">Meridian operations</span>
        <nav>
          {tab('/exceptions', 'Exceptions')}
          {tab('/runs', 'Runs')}
          {tab('/journey', 'Journey of a deal')}
        </nav>
        <span class={`link link-${linkState}`} role="status" aria-label="live connection">
          {linkState === 'live' ? '● live' : linkState === 'reconnecting' ? '○ reconnecting…' : '○ connecting…'}
        </span>
        <span class="who">
          {session.subject} ·{' '}
          <span class={`role role-${access}`}>{access === 'act' ? 'operations' : 'BI — read-only'}</span>
        </span>
        <button type="button" class="quiet" onClick={() => onSignOut(null)}>
          Sign out
        </button>
      </header>
      <main>{page}</main>
    </Context.Provider>
  );
}
