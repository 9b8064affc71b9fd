import { useEffect, useState } from 'preact/hooks';
import { request } from '../api';
import type { Session } from '../auth';

/** The page a role that may not use the console gets (portal users, machine tokens), with the gateway's own answer. */
export function RefusedPage({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const [gateway, setGateway] = useState<string | null>(null);
  useEffect(() => {
    request(session, 'query ConsoleSignIn { exceptions(first: 0) { totalCount } }').then(({ errors }) =>
      setGateway(errors[0] ? `${errors[0].extensions?.code ?? 'ERROR'}: ${errors[0].message}` : null),
    );
  }, [session.token]);
  const why =
    session.role === 'portal'
      ? 'Client portal accounts see their own projects, milestones and invoices in the client portal, not here.'
      : session.role === 'service'
        ? 'Service tokens are for machines; sign in as a person so the audit log names you.'
        : 'Only operations staff (who act on exceptions) and BI readers (read-only) may use it.';
  return (
    <main class="sign-in">
      <section class="refused" aria-label="access refused">
        <h1>This console is not open to your account</h1>
        <p>
          You are signed in as <strong>{session.subject}</strong> with the role <strong>{session.role}</strong>. The
          operations console is for operations staff and BI readers. {why}
        </p>
        {gateway && (
          <p class="hint">
            The gateway refuses this token's console requests too: <code>{gateway}</code>
          </p>
        )}
        <button type="button" onClick={onSignOut}>
          Use another token
        </button>
      </section>
    </main>
  );
}
