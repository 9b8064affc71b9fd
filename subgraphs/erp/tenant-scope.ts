import type { Identity } from '../../lib/auth/identity';

/**
 * The CRM accounts a caller may see the ERP records of: a portal user's `identity.accounts`, or null for every other
 * caller (no restriction). An ERP customer belongs to the account its `externalCrmId` names; an invoice, its lines and
 * payments to its customer's account; a project's dimensions, billing lines and invoices to the project's customer's.
 */
export type TenantScope = ReadonlySet<string> | null;

/**
 * The tenant scope of a request's caller. Anonymous callers are refused before any resolver runs; should one get
 * through all the same, it sees no account (the empty scope), never every one.
 */
export function tenantScopeOf(identity: Identity | null): TenantScope {
  if (identity === null) return new Set();
  return identity.accounts === null ? null : new Set(identity.accounts);
}

/** True when the scope lets its caller see records of the CRM account `accountId`. */
export function seesAccount(scope: TenantScope, accountId: string): boolean {
  return scope === null || scope.has(accountId);
}
