/**
 * The app shell: who is signed in (from the server; nothing is kept in the browser), the
 * navigation, and the page for the current path. A 401 from any call returns to sign-in.
 */
import { useEffect, useState } from 'preact/hooks';
import { currentSession, setCsrfToken, signOut, whenUnauthenticated } from './api.ts';
import { ErrorBox, Link, Loading } from './components.tsx';
import { AgentPage } from './pages/agent.tsx';
import { AgentsPage } from './pages/agents.tsx';
import { CatalogPage } from './pages/catalog.tsx';
import { EventsPage } from './pages/events.tsx';
import { SignInPage } from './pages/sign-in.tsx';
import { navigate, useLocation } from './router.ts';
import type { Session } from './types.ts';

/** What a role may do, for showing only the controls that will work (the API decides anyway). */
export interface Abilities {
  write: boolean;
  admin: boolean;
}

export const abilitiesOf = (session: Session): Abilities => ({
  write: session.role === 'operator' || session.role === 'admin',
  admin: session.role === 'admin',
});

function Page(props: { path: string; query: URLSearchParams; can: Abilities }) {
  const { path, can } = props;
  const agent = /^\/agents\/([^/]+)$/.exec(path);
  if (agent) return <AgentPage id={decodeURIComponent(agent[1]!)} can={can} />;
  const catalog = /^\/catalog(?:\/([^/]+))?$/.exec(path);
  if (catalog) return <CatalogPage selected={catalog[1] ? decodeURIComponent(catalog[1]) : undefined} can={can} />;
  if (path === '/events') return <EventsPage />;
  return <AgentsPage can={can} query={props.query} />;
}

function Nav(props: { path: string; session: Session; onSignOut: () => void }) {
  const here = (prefix: string) => (props.path === prefix || (prefix !== '/' && props.path.startsWith(prefix)) ? 'page' : undefined);
  return (
    <header class="top">
      <a class="brand" href="/agents" onClick={(e) => (e.preventDefault(), navigate('/agents'))}>
        toolbelt
      </a>
      <nav aria-label="Main">
        <Link href="/agents" aria-current={here('/agents') ?? (props.path === '/' ? 'page' : undefined)}>
          Agents
        </Link>
        <Link href="/catalog" aria-current={here('/catalog')}>
          Catalog
        </Link>
        <Link href="/events" aria-current={here('/events')}>
          Events
        </Link>
      </nav>
      <div class="who">
        <span>
          {props.session.name} <span class="role">({props.session.role})</span>
        </span>
        <button type="button" class="secondary" onClick={props.onSignOut}>
          Sign out
        </button>
      </div>
    </header>
  );
}

export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const { path, query } = useLocation();

  const load = () => {
    setError(undefined);
    currentSession().then((s) => {
      setCsrfToken(s?.csrf_token ?? null);
      setSession(s ?? null);
    }, setError);
  };
  useEffect(() => {
    whenUnauthenticated(() => {
      setCsrfToken(null);
      setSession(null);
    });
    load();
  }, []);

  useEffect(() => {
    if (session === null && path !== '/sign-in') navigate(`/sign-in${path !== '/' ? `?next=${encodeURIComponent(path)}` : ''}`, { replace: true });
    if (session && path === '/sign-in') navigate(query.get('next') ?? '/agents', { replace: true });
  }, [session, path]);

  if (error) return <main id="main"><ErrorBox error={error} retry={load} /></main>;
  if (session === undefined) return <main id="main"><Loading label="Checking your session…" /></main>;
  if (session === null) {
    return (
      <SignInPage
        onSignedIn={(s) => {
          setCsrfToken(s.csrf_token);
          setSession(s);
        }}
      />
    );
  }
  const doSignOut = async () => {
    await signOut().catch(() => undefined);
    setCsrfToken(null);
    setSession(null);
  };
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Nav path={path} session={session} onSignOut={doSignOut} />
      <main id="main" tabIndex={-1}>
        <Page path={path} query={query} can={abilitiesOf(session)} />
      </main>
    </>
  );
}
