import type { Identity } from '../../lib/auth/identity';

/**
 * The CRM accounts whose PSA records `identity` may see: a portal user's own accounts, none for an anonymous caller,
 * and null (every account) for every other role. Lists and loaders filter by it; a record outside it answers as an
 * unknown ID would, so its existence is never revealed.
 */
export function accountScope(identity: Identity | null): readonly string[] | null {
  // Fail closed: the access rules already refuse anonymous callers, but a selection they do not cover sees nothing.
  if (!identity) return [];
  return identity.accounts;
}

/** True when `scope` (from {@link accountScope}) lets the caller see the records of CRM account `accountId`. */
export function inScope(scope: readonly string[] | null, accountId: string): boolean {
  return scope === null || scope.includes(accountId);
}
