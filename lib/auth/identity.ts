import { MeridianError } from '../errors';

/** Who may use the graph; each role has base scopes and the extra scopes a token may add. */
export const ROLES = ['bi', 'portal', 'operations', 'service'] as const;
export type Role = (typeof ROLES)[number];

/**
 * The scopes the schemas declare with `@requiresScopes`:
 * - `read:business` — the firm's own records (accounts, deals, projects, invoices, finance), not personal data;
 * - `read:pii` — personal data: contact emails and phones, resource emails and cost rates;
 * - `read:portal` — a client's view of its own accounts' projects, milestones, invoices and payments;
 * - `read:sync` — sync runs, exceptions, traces, cross-references;
 * - `write:flows` — trigger, retry, replay and abandon flows, resolve exceptions;
 * - `write:systems` — commands straight to the systems of record (the orchestration's own calls, event intake).
 */
export const SCOPES = [
  'read:business',
  'read:pii',
  'read:portal',
  'read:sync',
  'write:flows',
  'write:systems',
] as const;
export type Scope = (typeof SCOPES)[number];

/** Scopes each role always has (`base`), and the ones a token's `scope` claim may add (`grantable`); nothing else. */
export const ROLE_SCOPES: Record<Role, { base: readonly Scope[]; grantable: readonly Scope[] }> = {
  bi: { base: ['read:business', 'read:sync'], grantable: ['read:pii'] },
  portal: { base: ['read:portal'], grantable: [] },
  operations: { base: ['read:business', 'read:sync', 'write:flows'], grantable: ['read:pii'] },
  service: { base: ['read:business', 'read:pii', 'read:sync', 'write:flows', 'write:systems'], grantable: [] },
};

/** A verified caller: the token's subject, its role, its effective scopes, and (portal users only) the CRM accounts it may see. */
export interface Identity {
  subject: string;
  role: Role;
  scopes: readonly Scope[];
  /** CRM account IDs a portal user is scoped to; null for roles that see every account. */
  accounts: readonly string[] | null;
  /** When the token stops being valid (ms since the epoch); a graphql-ws socket is closed then. Not forwarded. */
  expiresAt?: number;
}

/** The identity the orchestration uses when it calls the system subgraphs itself. */
export const ORCHESTRATION_SERVICE: Identity = identityOf('orchestration', 'service', [], null);

/** Builds an identity with the role's base scopes plus the requested ones the role may be granted. */
export function identityOf(
  subject: string,
  role: Role,
  requested: readonly string[],
  accounts: readonly string[] | null,
): Identity {
  const { base, grantable } = ROLE_SCOPES[role];
  const scopes = [...base, ...grantable.filter((s) => requested.includes(s))];
  return { subject, role, scopes, accounts: role === 'portal' ? [...(accounts ?? [])] : null };
}

/**
 * Reads an identity from verified JWT claims: `sub`, `role`, optional `scope` (space-separated, OAuth style) and,
 * for portal users, `accounts` (CRM account IDs).
 * @throws MeridianError UNAUTHENTICATED when a claim is missing or malformed.
 */
export function identityFromClaims(claims: Record<string, unknown>): Identity {
  const { sub, role, scope, accounts } = claims;
  if (typeof sub !== 'string' || sub.length === 0)
    throw new MeridianError('UNAUTHENTICATED', 'The token has no subject (`sub`)');
  if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
    throw new MeridianError('UNAUTHENTICATED', `The token's \`role\` claim must be one of ${ROLES.join(', ')}`);
  }
  if (scope !== undefined && typeof scope !== 'string')
    throw new MeridianError('UNAUTHENTICATED', "The token's `scope` claim must be a space-separated string");
  if (
    role === 'portal' &&
    (!Array.isArray(accounts) || accounts.length === 0 || !accounts.every((a) => typeof a === 'string' && a.length > 0))
  ) {
    throw new MeridianError('UNAUTHENTICATED', 'A portal token must list its CRM account IDs in the `accounts` claim');
  }
  const identity = identityOf(
    sub,
    role as Role,
    typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [],
    role === 'portal' ? (accounts as string[]) : null,
  );
  return typeof claims.exp === 'number' ? { ...identity, expiresAt: claims.exp * 1000 } : identity;
}

/** Header carrying the verified identity from the gateway (or the orchestration) to a subgraph, under the request signature. */
export const IDENTITY_HEADER = 'x-meridian-identity';

/** Header values of the identities encoded so far: a request's identity is encoded once for all its subgraph calls. */
const encoded = new WeakMap<Identity, string>();

/** The identity as a header value (base64url JSON); `''` for an anonymous request. Identities are never mutated. */
export function encodeIdentity(identity: Identity | null): string {
  if (!identity) return '';
  let value = encoded.get(identity);
  if (value === undefined) {
    const { subject, role, scopes, accounts } = identity;
    value = Buffer.from(JSON.stringify({ subject, role, scopes, accounts })).toString('base64url');
    encoded.set(identity, value);
  }
  return value;
}

/**
 * Reads the identity header of a request whose signature was verified.
 * @throws MeridianError UNAUTHENTICATED when it does not hold an identity.
 */
export function decodeIdentity(header: string): Identity | null {
  if (header === '') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
  } catch {
    throw new MeridianError('UNAUTHENTICATED', 'The identity header is not valid');
  }
  const p = parsed as Partial<Identity>;
  if (
    typeof p.subject !== 'string' ||
    !(ROLES as readonly string[]).includes(p.role as string) ||
    !Array.isArray(p.scopes)
  ) {
    throw new MeridianError('UNAUTHENTICATED', 'The identity header is not valid');
  }
  // Scopes are recomputed from the role, so a signer can never widen a role past its grantable set.
  return identityOf(
    p.subject,
    p.role as Role,
    p.scopes,
    Array.isArray(p.accounts) ? p.accounts.filter((a): a is string => typeof a === 'string') : null,
  );
}
