/** Who is signed in, as the token says (the gateway verifies the token on every call; this is for display and routing). */
export interface Session {
  token: string;
  subject: string;
  role: string;
  /** Epoch ms, when the token says. */
  expiresAt: number | null;
}

/** What the console lets a role do: operations acts, BI reads, everyone else is refused. */
export type Access = 'act' | 'read' | 'refused';

/** The access a role gets in the console. Portal users have their own portal; service tokens are for machines. */
export function accessOf(role: string): Access {
  if (role === 'operations') return 'act';
  if (role === 'bi') return 'read';
  return 'refused';
}

/**
 * Where the console's bearer token comes from. `token` takes a pasted JWT (development, `npm run token`); an OIDC
 * provider (authorization code with PKCE against the company's identity provider) is the next implementation of
 * this interface: its sign-in redirects, and on return it calls `accept` with the access token.
 */
export interface SignInProvider {
  readonly kind: 'token' | 'oidc';
  /** The current session, or null. */
  current(): Session | null;
  /** Takes a token; throws an Error with a reader's message when it is not a JWT. */
  accept(token: string): Session;
  signOut(): void;
}

const STORAGE_KEY = 'meridian.console.token';

/** The development provider: a pasted token, kept in this tab's sessionStorage (gone when the tab closes). */
export function tokenSignIn(storage: Storage = sessionStorage): SignInProvider {
  return {
    kind: 'token',
    current() {
      const token = storage.getItem(STORAGE_KEY);
      if (!token) return null;
      try {
        const session = sessionOf(token);
        if (session.expiresAt !== null && session.expiresAt <= Date.now()) {
          storage.removeItem(STORAGE_KEY);
          return null;
        }
        return session;
      } catch {
        storage.removeItem(STORAGE_KEY);
        return null;
      }
    },
    accept(token) {
      const session = sessionOf(token.trim().replace(/^Bearer\s+/i, ''));
      storage.setItem(STORAGE_KEY, session.token);
      return session;
    },
    signOut() {
      storage.removeItem(STORAGE_KEY);
    },
  };
}

/** Reads a JWT's claims without verifying it (the gateway verifies). @throws Error when it is not a JWT */
export function sessionOf(token: string): Session {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) throw new Error('This is not a JWT: expected three dot-separated parts');
  let claims: Record<string, unknown>;
  try {
    const json = atob(parts[1].replace(/-/g, '+').replace(/_/g, '/'));
    claims = JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw new Error('This is not a JWT: its claims are not readable');
  }
  return {
    token,
    subject: typeof claims.sub === 'string' ? claims.sub : '(no subject)',
    role: typeof claims.role === 'string' ? claims.role : '(no role)',
    expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : null,
  };
}
