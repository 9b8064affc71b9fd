import DataLoader from 'dataloader';
import type { AccountRecord, ContactRecord, CrmConnector, OpportunityRecord } from './connector/crm-connector';

/** The CRM's per-request loaders: one connector call per batch, whatever the number of keys. */
export interface CrmLoaders {
  account: DataLoader<string, AccountRecord | null>;
  opportunity: DataLoader<string, OpportunityRecord | null>;
  contactsByAccount: DataLoader<string, ContactRecord[]>;
  opportunitiesByAccount: DataLoader<string, OpportunityRecord[]>;
}

/** Builds a fresh loader set; call once per request so nothing is cached across requests. */
export function createLoaders(crm: CrmConnector): CrmLoaders {
  return {
    account: new DataLoader((ids) => crm.getAccounts(ids)),
    opportunity: new DataLoader((ids) => crm.getOpportunities(ids)),
    contactsByAccount: new DataLoader((ids) => crm.getContactsByAccount(ids)),
    opportunitiesByAccount: new DataLoader((ids) => crm.getOpportunitiesByAccount(ids)),
  };
}
