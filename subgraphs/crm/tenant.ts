import type { Identity } from '../../lib/auth/identity';
import { MeridianError } from '../../lib/errors';

/** The CRM account IDs a caller may see: a set for a portal user (tenant-scoped), null for a role that sees every account. */
export type AccountScope = ReadonlySet<string> | null;

/**
 * The accounts `identity` may see: its own for a portal user, every one (null) for the other roles. An anonymous
 * caller sees none; the access plugin refuses it before any resolver runs, so this only closes the door twice.
 */
export function accountScopeOf(identity: Identity | null): AccountScope {
  if (identity === null) return new Set();
  return identity.accounts === null ? null : new Set(identity.accounts);
}

/**
 * `ids` narrowed to `scope`: the requested IDs it holds, or all of its IDs when none were requested. Unscoped callers
 * get `ids` back unchanged. Foreign and unknown IDs are dropped alike, so neither shows whether it exists.
 */
export function scopeIds(ids: readonly string[] | null | undefined, scope: AccountScope): readonly string[] | null | undefined {
  if (scope === null) return ids;
  return ids ? ids.filter((id) => scope.has(id)) : [...scope];
}

/**
 * For reads and writes that are not tenant-scoped (the change feed, commands to the system): the scopes in the
 * schema already refuse portal users, and this refuses them again should a rule ever be dropped.
 * @throws MeridianError FORBIDDEN for a scoped (portal or anonymous) caller.
 */
export function assertUnscoped(identity: Identity | null, field: string): void {
  if (accountScopeOf(identity) !== null) {
    throw new MeridianError('FORBIDDEN', `${field} is not available to a caller scoped to a client's accounts`);
  }
}
