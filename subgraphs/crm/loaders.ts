import DataLoader from 'dataloader';
import type { Identity } from '../../lib/auth/identity';
import type {
  AccountFinanceRecord,
  AccountRecord,
  ContactRecord,
  CrmConnector,
  OpportunityRecord,
} from './connector/crm-connector';
import { accountScopeOf, type AccountScope } from '../../lib/auth/account-scope';
import type { ContractAmendmentRecord } from './connector/contract-amendments';

/**
 * The CRM's per-request loaders: one connector call per batch, whatever the number of keys. They are scoped to the
 * caller's accounts: for a portal user a foreign account (or its opportunity) loads as `null` and its contacts and
 * opportunities as `[]`, exactly as an unknown ID does, so every nested read and `__resolveReference` is filtered.
 */
export interface CrmLoaders {
  account: DataLoader<string, AccountRecord | null>;
  opportunity: DataLoader<string, OpportunityRecord | null>;
  contactsByAccount: DataLoader<string, ContactRecord[]>;
  opportunitiesByAccount: DataLoader<string, OpportunityRecord[]>;
  /** Keyed by account ID. */
  finance: DataLoader<string, AccountFinanceRecord | null>;
  /** Contract amendments per opportunity ID (read only by callers unscoped to accounts: the type needs read:business). */
  amendmentsByOpportunity: DataLoader<string, ContractAmendmentRecord[]>;
}

/**
 * A batch function over account IDs that asks the connector only for the IDs in `scope` and answers `none` for the
 * others, without a call when none is in scope: foreign IDs never reach the store.
 */
function withinScope<V>(scope: AccountScope, load: (ids: readonly string[]) => Promise<V[]>, none: () => V) {
  return async (ids: readonly string[]): Promise<V[]> => {
    if (scope === null) return load(ids);
    const visible = ids.filter((id) => scope.has(id));
    const loaded = visible.length ? await load(visible) : [];
    const byId = new Map<string, V>(visible.map((id, i) => [id, loaded[i] as V]));
    return ids.map((id) => (byId.has(id) ? (byId.get(id) as V) : none()));
  };
}

/** Builds a fresh loader set for one request by `identity`; call once per request so nothing is cached across requests. */
export function createLoaders(crm: CrmConnector, identity: Identity | null): CrmLoaders {
  const scope = accountScopeOf(identity);
  return {
    account: new DataLoader(
      withinScope(
        scope,
        (ids) => crm.getAccounts(ids),
        () => null,
      ),
    ),
    opportunity: new DataLoader(async (ids) => {
      const found = await crm.getOpportunities(ids);
      return scope === null ? found : found.map((o) => (o !== null && scope.has(o.accountId) ? o : null));
    }),
    contactsByAccount: new DataLoader(
      withinScope(
        scope,
        (ids) => crm.getContactsByAccount(ids),
        (): ContactRecord[] => [],
      ),
    ),
    opportunitiesByAccount: new DataLoader(
      withinScope(
        scope,
        (ids) => crm.getOpportunitiesByAccount(ids),
        (): OpportunityRecord[] => [],
      ),
    ),
    finance: new DataLoader(
      withinScope(
        scope,
        (ids) => crm.getAccountFinance(ids),
        () => null,
      ),
    ),
    amendmentsByOpportunity: new DataLoader((ids) => crm.getContractAmendmentsByOpportunity(ids)),
  };
}
