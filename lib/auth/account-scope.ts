import { MeridianError } from '../errors';
import type { Identity } from './identity';

/**
 * The CRM accounts whose records a caller may see, in any subgraph: a portal user's own (a set), or null for a role
 * that sees every account. A record outside the scope answers exactly as an unknown ID would (null, an empty list,
 * the same error), so its existence is never revealed.
 */
export type AccountScope = ReadonlySet<string> | null;

/**
 * The scope of a request's caller. An anonymous caller is refused by the access rules before any resolver runs;
 * should one get through all the same, it sees no account (the empty scope), never every one.
 */
export function accountScopeOf(identity: Identity | null): AccountScope {
  if (identity === null) return new Set();
  return identity.accounts === null ? null : new Set(identity.accounts);
}

/** True when the scope lets its caller see the records of CRM account `accountId`. */
export function seesAccount(scope: AccountScope, accountId: string): boolean {
  return scope === null || scope.has(accountId);
}

/** The scope's account IDs for a connector filter; null (no restriction) for an unscoped caller. */
export function scopedAccountIds(scope: AccountScope): string[] | null {
  return scope === null ? null : [...scope];
}

/**
 * `ids` narrowed to `scope`: the requested IDs it holds, or all of its IDs when none were requested. Unscoped callers
 * get `ids` back unchanged. Foreign and unknown IDs are dropped alike, so neither shows whether it exists.
 */
export function scopeIds(
  ids: readonly string[] | null | undefined,
  scope: AccountScope,
): readonly string[] | null | undefined {
  if (scope === null) return ids;
  return ids ? ids.filter((id) => scope.has(id)) : [...scope];
}

/**
 * For reads and writes that are not tenant-scoped (change feeds, commands to a system): the schema's scopes already
 * refuse portal users, and this refuses them again should a rule ever be dropped.
 * @throws MeridianError FORBIDDEN for a scoped (portal or anonymous) caller.
 */
export function assertUnscoped(identity: Identity | null, field: string): void {
  if (accountScopeOf(identity) !== null)
    throw new MeridianError('FORBIDDEN', `${field} is not available to a caller scoped to a client's accounts`);
}
