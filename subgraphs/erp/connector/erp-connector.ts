import type { ChangeFeedRequest } from '../../../lib/change-feed';
import type { ProjectContractCommands } from './project-contracts';
import type { Page, PageRequest } from '../../../lib/pagination';

/** OVERDUE: POSTED, unpaid past its due date, and marked so by the overdue sweep (`markInvoiceOverdue`). */
export type InvoiceStatus = 'DRAFT' | 'POSTED' | 'OVERDUE' | 'PAID' | 'VOID';
export type PaymentTerms = 'NET_15' | 'NET_30' | 'NET_45' | 'NET_60';
export type BillingSourceType = 'TIME' | 'EXPENSE' | 'MILESTONE' | 'FEE';

export interface LegalEntityRecord {
  code: string;
  name: string;
  country: string;
  currency: string;
}

export interface TaxJurisdictionRecord {
  code: string;
  name: string;
  country: string;
  /** Tax rate in basis points (20% → 2000). */
  rateBasisPoints: number;
}

/** An accounting period (`YYYY-MM`) and whether it takes postings. */
export interface AccountingPeriodRecord {
  period: string;
  status: 'OPEN' | 'CLOSED';
}

/** A customer; `externalCrmId` is the CRM account ID (unique). */
export interface CustomerRecord {
  id: string;
  customerNumber: string;
  name: string;
  legalEntityCode: string;
  taxJurisdictionCode: string;
  paymentTerms: PaymentTerms;
  currency: string;
  externalCrmId: string;
  /** Registered name, when it differs from the trading name invoices are addressed to. */
  legalName: string | null;
  /** ISO 3166-1 alpha-2 country of the billing address. */
  billingCountry: string | null;
  /** Billing address as printed on invoices: lines separated by newlines. */
  billingAddress: string | null;
  /** Whom invoices go to, as a mailbox: `Ada Lovelace <ada@example.com>`. */
  billingContact: string | null;
  /** The group's parent customer (the ERP side of the CRM's account hierarchy). */
  parentCustomerId: string | null;
}

/** A customer's credit hold (ERP-owned: finance places and releases it). */
export interface CreditHoldRecord {
  customerId: string;
  /** Why the customer is on hold. */
  reason: string;
  /** When the hold was placed (ISO 8601 timestamp); a changed reason keeps it. */
  since: string;
}

/** Customer fields the CRM may own, which {@link ErpConnector.updateCustomerFields} changes one by one. */
export const CUSTOMER_MASTER_FIELDS = [
  'name',
  'legalName',
  'billingCountry',
  'billingAddress',
  'billingContact',
  'paymentTerms',
  'parentCustomerId',
] as const;
export type CustomerMasterField = (typeof CUSTOMER_MASTER_FIELDS)[number];

/** Financial dimensions of a PSA project, keyed by the PSA project ID. */
export interface ProjectDimensionsRecord {
  psaProjectId: string;
  customerId: string;
  projectCode: string;
  billingSchedule: string;
  revenueTreatment: string;
}

export interface BillingLineRecord {
  id: string;
  /** Caller's key, the source entry's own ID (`time:<id>`, `expense:<id>`): the same key never posts twice. */
  externalId: string;
  psaProjectId: string;
  sourceType: BillingSourceType;
  sourceId: string;
  description: string;
  quantityHundredths: number;
  unitPriceMinor: number;
  amountMinor: number;
  currency: string;
  postingDate: string;
  invoiceId: string | null;
}

export interface InvoiceLineRecord {
  invoiceId: string;
  lineNumber: number;
  description: string;
  quantityHundredths: number;
  unitPriceMinor: number;
  amountMinor: number;
}

/** An invoice; `psaProjectId` links it to the PSA project, `totalMinor` includes tax. */
export interface InvoiceRecord {
  id: string;
  number: string;
  customerId: string;
  psaProjectId: string | null;
  status: InvoiceStatus;
  issueDate: string;
  dueDate: string;
  currency: string;
  subtotalMinor: number;
  taxMinor: number;
  totalMinor: number;
  balanceMinor: number;
  externalId: string | null;
  /**
   * When the invoice last changed (ISO 8601 timestamp): posted, or a payment applied (its balance, and maybe its status,
   * changed). Stamps increase strictly in the order changes are made.
   */
  updatedAt: string;
}

export interface PaymentRecord {
  id: string;
  invoiceId: string;
  amountMinor: number;
  currency: string;
  receivedOn: string;
  externalId: string | null;
}

export interface InvoiceFilter {
  customerId?: string | null;
  /** CRM account ID of the customer. */
  accountId?: string | null;
  /**
   * Only invoices of the customers of these CRM accounts (a portal user's tenant scope); an empty list matches none.
   * Null or absent: no restriction.
   */
  accountIds?: readonly string[] | null;
  psaProjectId?: string | null;
  status?: InvoiceStatus | null;
  /** Only POSTED or OVERDUE invoices with a balance, past their due date on this date. */
  overdueOn?: string | null;
  /** Only invoices that are not overdue on this date (the complement of `overdueOn`). */
  notOverdueOn?: string | null;
}

export interface UpsertCustomer {
  externalCrmId: string;
  name: string;
  legalEntityCode: string;
  taxJurisdictionCode: string;
  paymentTerms: PaymentTerms;
  currency: string;
  /** Customer master fields the CRM holds (see {@link CustomerRecord}); null or omitted: none. */
  legalName?: string | null;
  billingCountry?: string | null;
  billingAddress?: string | null;
  billingContact?: string | null;
  parentCustomerId?: string | null;
}

/** Fields of a customer to change, the others left as they are (the fields the CRM owns). */
export interface UpdateCustomerFields {
  id: string;
  /** New values; a field absent is unchanged, null clears it (the name cannot be cleared). */
  set: Partial<Record<CustomerMasterField, string | null>>;
  /** The values the caller read: a field that would change but no longer holds its expected value fails. */
  expected: Partial<Record<CustomerMasterField, string | null>>;
}

export interface NewBillingLine {
  externalId: string;
  psaProjectId: string;
  sourceType: BillingSourceType;
  sourceId: string;
  description: string;
  quantityHundredths: number;
  unitPriceMinor: number;
  currency: string;
  postingDate: string;
}

export interface PostInvoice {
  /** Idempotency: the same key returns the first invoice; with other data, DUPLICATE_EXTERNAL_ID. */
  externalId: string;
  customerId: string;
  psaProjectId: string | null;
  issueDate: string;
  /** Unbilled billing lines to invoice (all of them must belong to the project). */
  billingLineIds: readonly string[];
  /** Extra lines typed in (milestone or fee lines); `currency` must be the customer's. */
  lines: { description: string; quantityHundredths: number; unitPriceMinor: number; currency: string }[];
  /**
   * Unbilled billing lines of the project drawn down against a retainer fee this invoice charges: marked invoiced on
   * it like `billingLineIds`, but not charged (the fee line, and an overage line if any, are). None when absent.
   */
  coveredBillingLineIds?: readonly string[];
}

/** What a retainer project is charged per month, whatever its time draws down (the overage is billed apart). */
export interface RetainerTermsRecord {
  psaProjectId: string;
  feeMinor: number;
  currency: string;
}

/** What a delete did: `deleted` is false when there was nothing under `id` (a repeat, or an unknown ID). */
export interface DeleteOutcome {
  id: string;
  deleted: boolean;
}

/**
 * The ERP as Meridian uses it, shaped like NetSuite REST / Dynamics: batch reads by ID (keys' length and order,
 * `null` per missing ID), per-parent batch reads, keyset pages, upserts by external ID.
 * Every command may throw MeridianError RATE_LIMITED / SYSTEM_MAINTENANCE (with `retryAfterMs`); writes may
 * throw VALIDATION_REJECTED (unknown tax jurisdiction or legal entity, closed period) naming the bad value.
 */
export interface ErpConnector extends ProjectContractCommands {
  getCustomers(ids: readonly string[]): Promise<(CustomerRecord | null)[]>;
  getCustomersByCrmAccount(accountIds: readonly string[]): Promise<(CustomerRecord | null)[]>;
  /** The credit hold of each customer, null for one not on hold (or unknown). */
  getCreditHolds(customerIds: readonly string[]): Promise<(CreditHoldRecord | null)[]>;
  getLegalEntities(codes: readonly string[]): Promise<(LegalEntityRecord | null)[]>;
  getTaxJurisdictions(codes: readonly string[]): Promise<(TaxJurisdictionRecord | null)[]>;
  /** Every legal entity, in code order (a short reference list). */
  listLegalEntities(): Promise<LegalEntityRecord[]>;
  /** Every tax jurisdiction, in code order (a short reference list). */
  listTaxJurisdictions(): Promise<TaxJurisdictionRecord[]>;
  /**
   * The status of each accounting period (`YYYY-MM`), in the keys' order: every month is a period, open until the
   * finance team closes it (postings dated in a closed period are refused with VALIDATION_REJECTED).
   */
  getAccountingPeriods(periods: readonly string[]): Promise<AccountingPeriodRecord[]>;
  getInvoices(ids: readonly string[]): Promise<(InvoiceRecord | null)[]>;
  listInvoices(page: PageRequest, filter?: InvoiceFilter): Promise<Page<InvoiceRecord>>;
  /**
   * The invoices' change feed: invoices changed at or after `since`, oldest change first (by `updatedAt`, then ID),
   * after the position `after`. A change moves an invoice to the end, so reading on from the last position seen
   * returns every invoice changed since, none skipped (`totalCount` counts the invoices changed since `since`).
   */
  listInvoicesChangedSince(request: ChangeFeedRequest): Promise<Page<InvoiceRecord>>;
  getInvoicesByCrmAccount(accountIds: readonly string[]): Promise<InvoiceRecord[][]>;
  getInvoicesByProject(psaProjectIds: readonly string[]): Promise<InvoiceRecord[][]>;
  /** Billing lines per PSA project, oldest posting first (then ID), invoiced or not. */
  getBillingLinesByProject(psaProjectIds: readonly string[]): Promise<BillingLineRecord[][]>;
  getInvoiceLines(invoiceIds: readonly string[]): Promise<InvoiceLineRecord[][]>;
  getPaymentsByInvoice(invoiceIds: readonly string[]): Promise<PaymentRecord[][]>;
  getProjectDimensions(psaProjectIds: readonly string[]): Promise<(ProjectDimensionsRecord | null)[]>;
  upsertCustomer(input: UpsertCustomer): Promise<{ record: CustomerRecord; created: boolean }>;
  /**
   * Changes the given fields of a customer and no other; setting the values it holds changes nothing (`changed: false`).
   * @throws MeridianError NOT_FOUND, VALIDATION_REJECTED (a blank name), INVALID_STATE when a field to change no longer
   * holds its `expected` value (someone changed it since the caller read it)
   */
  updateCustomerFields(input: UpdateCustomerFields): Promise<{ record: CustomerRecord; changed: boolean }>;
  upsertProjectDimensions(
    input: ProjectDimensionsRecord,
  ): Promise<{ record: ProjectDimensionsRecord; created: boolean }>;
  /** Lines whose external ID was posted before come back as first posted. */
  postBillingLines(lines: readonly NewBillingLine[]): Promise<BillingLineRecord[]>;
  postInvoice(input: PostInvoice): Promise<{ record: InvoiceRecord; created: boolean }>;
  /** The retainer terms of each PSA project, or null for a project with none. */
  getRetainerTerms(psaProjectIds: readonly string[]): Promise<(RetainerTermsRecord | null)[]>;
  /**
   * Sets a project's monthly retainer fee (the next invoices charge it; posted ones keep theirs).
   * @throws MeridianError NOT_FOUND when the project has no dimensions; VALIDATION_REJECTED for a fee that is not
   * positive or not in the project customer's currency
   */
  upsertRetainerTerms(input: RetainerTermsRecord): Promise<{ record: RetainerTermsRecord; created: boolean }>;
  applyPayment(input: {
    externalId: string;
    invoiceId: string;
    amountMinor: number;
    currency: string;
    receivedOn: string;
  }): Promise<{ record: PaymentRecord; created: boolean }>;
  /**
   * Marks a POSTED invoice with a balance past its due date on `asOf` as OVERDUE (a change: it moves to the end of the
   * change feed). An OVERDUE or PAID invoice is left as it is (`changed: false`).
   * @throws MeridianError NOT_FOUND; INVALID_STATE when the invoice is not past due on `asOf` (or DRAFT or VOID)
   */
  markInvoiceOverdue(input: { invoiceId: string; asOf: string }): Promise<{ record: InvoiceRecord; changed: boolean }>;
  /**
   * Places a customer on credit hold with a reason, or releases it (`reason: null`); placing a customer already on
   * hold keeps its first `since`, releasing one not on hold changes nothing (`changed: false`).
   * @throws MeridianError NOT_FOUND; VALIDATION_REJECTED for a blank reason
   */
  setCreditHold(input: {
    customerId: string;
    reason: string | null;
    at: string;
  }): Promise<{ record: CreditHoldRecord | null; changed: boolean }>;
  /**
   * Deletes a customer, the compensation of an {@link ErpConnector.upsertCustomer} that created it; an unknown ID gives
   * `deleted: false`, so a repeat is harmless.
   * @throws MeridianError INVALID_STATE when the customer has invoices, billing lines, project dimensions or child
   * customers
   */
  deleteCustomer(id: string): Promise<DeleteOutcome>;
  /**
   * Deletes a project's financial dimensions (`id` in the outcome is the PSA project ID), the compensation of an
   * {@link ErpConnector.upsertProjectDimensions} that created them; none under the project gives `deleted: false`.
   * @throws MeridianError INVALID_STATE when the project has billing lines or invoices
   */
  deleteProjectDimensions(psaProjectId: string): Promise<DeleteOutcome>;
}
