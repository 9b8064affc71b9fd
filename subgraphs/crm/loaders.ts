import DataLoader from 'dataloader';
import type { AccountFinanceRecord, AccountRecord, ContactRecord, CrmConnector, OpportunityRecord } from './connector/crm-connector';

/** The CRM's per-request loaders: one connector call per batch, whatever the number of keys. */
export interface CrmLoaders {
  account: DataLoader<string, AccountRecord | null>;
  opportunity: DataLoader<string, OpportunityRecord | null>;
  contactsByAccount: DataLoader<string, ContactRecord[]>;
  opportunitiesByAccount: DataLoader<string, OpportunityRecord[]>;
  /** Keyed by account ID. */
  finance: DataLoader<string, AccountFinanceRecord | null>;
}

/** Builds a fresh loader set; call once per request so nothing is cached across requests. */
export function createLoaders(crm: CrmConnector): CrmLoaders {
  return {
    account: new DataLoader((ids) => crm.getAccounts(ids)),
    opportunity: new DataLoader((ids) => crm.getOpportunities(ids)),
    contactsByAccount: new DataLoader((ids) => crm.getContactsByAccount(ids)),
    opportunitiesByAccount: new DataLoader((ids) => crm.getOpportunitiesByAccount(ids)),
    finance: new DataLoader((ids) => crm.getAccountFinance(ids)),
  };
}
