import type { BillingModel } from '../../../lib/billing-model';
import type { ChangeFeedRequest } from '../../../lib/change-feed';
import type { Page, PageRequest } from '../../../lib/pagination';
import type { ContractAmendmentCommands } from './contract-amendments';

/** Sales stage, as the CRM stores it. */
export type OpportunityStage =
  | 'PROSPECTING'
  | 'QUALIFICATION'
  | 'PROPOSAL'
  | 'NEGOTIATION'
  | 'CLOSED_WON'
  | 'CLOSED_LOST';
export type { BillingModel } from '../../../lib/billing-model';

/** Days a client has to pay an invoice (the ERP's terms). */
export type PaymentTerms = 'NET_15' | 'NET_30' | 'NET_45' | 'NET_60';

/** An account record. */
export interface AccountRecord {
  id: string;
  name: string;
  industry: string | null;
  billingCountry: string | null;
  parentAccountId: string | null;
  owner: string | null;
  externalId: string | null;
  /** Registered (legal) name, when it differs from the trading name. */
  legalName: string | null;
  /** Billing address, lines separated by newlines (the country is `billingCountry`). */
  billingAddress: string | null;
  /** The contact of this account invoices go to. */
  billingContactId: string | null;
  /** Payment terms agreed with the client, when the CRM holds them (governance says which system owns them). */
  paymentTerms: PaymentTerms | null;
  /**
   * When a field of the account last changed (ISO 8601 timestamp): set on create and by an update that changes a
   * field, never by one that changes nothing. Stamps increase strictly in the order changes are made.
   */
  updatedAt: string;
}

/**
 * What the ERP has invoiced an account, as the invoice-status flow last recorded it, in `currency` minor units:
 * totals (tax included) of its posted and paid invoices, the balance still open, and the part of it past due.
 */
export interface AccountFinanceRecord {
  accountId: string;
  invoicedToDateMinor: number;
  outstandingMinor: number;
  overdueMinor: number;
  /** Due date (ISO 8601) of the oldest invoice past due with a balance; null when nothing is overdue. */
  oldestOverdueDueDate: string | null;
  currency: string;
  /** When the ERP showed these figures (ISO 8601 timestamp); a record with an earlier `asOf` is ignored. */
  asOf: string;
  /** When the figures last changed (ISO 8601 timestamp). */
  updatedAt: string;
}

/** Figures to record on an account; `at` becomes `updatedAt` when they change. */
export type RecordAccountFinancials = Omit<AccountFinanceRecord, 'updatedAt'> & { at: string };

/** A contact record. */
export interface ContactRecord {
  id: string;
  accountId: string;
  firstName: string;
  lastName: string;
  title: string | null;
  email: string | null;
  phone: string | null;
}

/** An opportunity record; `amountMinor` is in minor units of `currency`. */
export interface OpportunityRecord {
  id: string;
  accountId: string;
  name: string;
  stage: OpportunityStage;
  amountMinor: number | null;
  currency: string | null;
  closeDate: string | null;
  servicePackage: string | null;
  billingModel: BillingModel | null;
  deliveryRegion: string | null;
  expectedStartDate: string | null;
  externalId: string | null;
  psaProjectId: string | null;
  erpCustomerId: string | null;
}

/** Which accounts to list; every condition given must hold. */
export interface AccountFilter {
  nameContains?: string | null;
  industry?: string | null;
  billingCountry?: string | null;
  /** Only accounts with these IDs; an empty array matches none (a portal user's scope may be empty). */
  ids?: readonly string[] | null;
}

/** Which opportunities to list; every condition given must hold. */
export interface OpportunityFilter {
  accountId?: string | null;
  /** Only opportunities of these accounts (a portal user's scope); an empty array matches none. */
  accountIds?: readonly string[] | null;
  stage?: OpportunityStage | null;
  billingModel?: BillingModel | null;
  closeDateFrom?: string | null;
  closeDateTo?: string | null;
}

/** The customer master fields an account upsert may leave out (null: none). */
type AccountMasterFields = 'legalName' | 'billingAddress' | 'billingContactId' | 'paymentTerms';
export type UpsertAccount = Omit<AccountRecord, 'id' | 'externalId' | 'updatedAt' | AccountMasterFields> &
  Partial<Pick<AccountRecord, AccountMasterFields>> & { externalId: string };
export type UpsertOpportunity = Omit<OpportunityRecord, 'id' | 'externalId' | 'psaProjectId' | 'erpCustomerId'> & {
  externalId: string;
};

/** What an upsert did. */
export interface Upserted<T> {
  record: T;
  created: boolean;
}

/**
 * The CRM as Meridian uses it, shaped like Salesforce's REST API: batch reads by ID (the result has the
 * keys' length and order, `null` per missing ID), keyset pages, upserts by external ID.
 * Every command may throw MeridianError RATE_LIMITED / SYSTEM_MAINTENANCE (with `retryAfterMs`).
 */
export interface CrmConnector extends ContractAmendmentCommands {
  getAccounts(ids: readonly string[]): Promise<(AccountRecord | null)[]>;
  listAccounts(page: PageRequest, filter?: AccountFilter): Promise<Page<AccountRecord>>;
  /**
   * The accounts' change feed: accounts changed at or after `since`, oldest change first (by `updatedAt`, then ID),
   * after the position `after`. A change moves an account to the end, so reading on from the last position seen
   * returns every account changed since, none skipped (`totalCount` counts the accounts changed since `since`).
   */
  listAccountsChangedSince(request: ChangeFeedRequest): Promise<Page<AccountRecord>>;
  /** The finance summary of each account, null until first recorded. */
  getAccountFinance(accountIds: readonly string[]): Promise<(AccountFinanceRecord | null)[]>;
  /** Contacts per account, one array per account ID, in the keys' order. */
  getContactsByAccount(accountIds: readonly string[]): Promise<ContactRecord[][]>;
  getOpportunities(ids: readonly string[]): Promise<(OpportunityRecord | null)[]>;
  /** Opportunities per account, newest close date first, one array per account ID. */
  getOpportunitiesByAccount(accountIds: readonly string[]): Promise<OpportunityRecord[][]>;
  listOpportunities(page: PageRequest, filter?: OpportunityFilter): Promise<Page<OpportunityRecord>>;
  /** Creates or updates by external ID; `updatedAt` moves only when a field changes. @throws MeridianError NOT_FOUND for an unknown parent account. */
  upsertAccount(input: UpsertAccount): Promise<Upserted<AccountRecord>>;
  /**
   * Records what the ERP has invoiced an account. The same figures again change nothing (`changed: false`, `updatedAt`
   * kept); figures read before the recorded ones (an earlier `asOf`) are ignored, so late or replayed records never
   * overwrite fresher ones. @throws MeridianError NOT_FOUND (account), VALIDATION_REJECTED (a negative amount)
   */
  recordAccountFinancials(input: RecordAccountFinancials): Promise<{ record: AccountFinanceRecord; changed: boolean }>;
  /**
   * @throws MeridianError NOT_FOUND for an unknown account; INVALID_STATE for a deal closed one way that the upsert
   * would close the other way (as {@link CrmConnector.closeOpportunity} refuses; reopening a closed deal is allowed).
   */
  upsertOpportunity(input: UpsertOpportunity): Promise<Upserted<OpportunityRecord>>;
  /** @throws MeridianError NOT_FOUND, or INVALID_STATE when already closed the other way. */
  closeOpportunity(id: string, outcome: 'WON' | 'LOST', closeDate: string): Promise<OpportunityRecord>;
  /** @throws MeridianError NOT_FOUND */
  linkOpportunity(
    id: string,
    links: { psaProjectId?: string | null; erpCustomerId?: string | null },
  ): Promise<OpportunityRecord>;
  /** Clears both links (PSA project, ERP customer), the compensation of {@link CrmConnector.linkOpportunity}; idempotent. @throws MeridianError NOT_FOUND */
  unlinkOpportunity(id: string): Promise<OpportunityRecord>;
}
